"""One validated settings tree, saved as TOML, overridable from the environment.

- Load: read TOML, migrate old ``schema_version``s, validate. A file that cannot be read
  or validated is renamed aside (``settings.toml.broken-YYYYmmdd-HHMMSS``) and the app
  starts on defaults, with a message saying where the old file went.
- ``VOXELLE_<SECTION>__<KEY>=value`` overrides a setting for this run only (values are
  parsed as JSON when they parse, else taken as text). Overrides are never saved.
- Save: atomic (temporary file + rename).
"""

from __future__ import annotations

import json
import os
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from voxelle_app.core.paths import atomic_write_text

SCHEMA_VERSION = 2
ENV_PREFIX = "VOXELLE_"


class Section(BaseModel):
    model_config = ConfigDict(extra="ignore", validate_assignment=True)


class AudioSettings(Section):
    input_device: str = Field("", description="Input device name; empty = system default")
    output_device: str = Field("", description="Output device name; empty = system default")
    block_ms: int = Field(20, ge=5, le=100, description="Audio block length")
    latency: Literal["low", "high"] = "high"
    listen_mode: Literal["voice", "push_to_talk", "muted"] = "voice"
    push_to_talk_key: str = "F8"
    vad_threshold: float = Field(0.5, gt=0.0, lt=1.0)
    vad_min_speech_ms: int = Field(250, ge=0, le=5000)
    vad_end_silence_ms: int = Field(500, ge=100, le=5000, description="End-of-turn silence")
    vad_preroll_ms: int = Field(300, ge=0, le=2000)
    barge_in: bool = True
    barge_in_min_ms: int = Field(300, ge=0, le=3000, description="Speech needed to interrupt")


class STTSettings(Section):
    model: str = Field("", description="CTranslate2 Whisper folder; empty = bundled tiny.en")
    language: str = Field("en", description="Language code, or 'auto' to detect")
    beam_size: int = Field(1, ge=1, le=10)
    threads: int = Field(0, ge=0, le=64, description="0 = let the backend choose")


class LLMSettings(Section):
    model: str = Field("", description="GGUF file; empty = bundled SmolLM2-135M-Instruct")
    context_size: int = Field(2048, ge=256, le=131072)
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    top_p: float = Field(0.9, gt=0.0, le=1.0)
    max_reply_tokens: int = Field(64, ge=8, le=2048)
    threads: int = Field(0, ge=0, le=64, description="0 = number of cores")
    history_tokens: int = Field(768, ge=0, le=65536, description="Token budget for history")
    seed: int = -1


class TTSSettings(Section):
    voice: str = Field("", description="Piper .onnx voice; empty = bundled en_US-joe-medium")
    speed: float = Field(1.0, ge=0.25, le=4.0)
    speaker_id: int = Field(0, ge=0)
    sentence_silence: float = Field(0.1, ge=0.0, le=2.0)


class EffectSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str
    params: dict[str, float] = Field(default_factory=dict)
    enabled: bool = True


def _default_presets() -> dict[str, list[EffectSpec]]:
    return {
        "none": [],
        "radio": [
            EffectSpec(kind="highpass", params={"cutoff_frequency_hz": 300.0}),
            EffectSpec(kind="lowpass", params={"cutoff_frequency_hz": 3400.0}),
            EffectSpec(kind="distortion", params={"drive_db": 8.0}),
            EffectSpec(kind="gain", params={"gain_db": -4.0}),
        ],
        "chipmunk": [EffectSpec(kind="pitch_shift", params={"semitones": 5.0})],
        "deep": [
            EffectSpec(kind="pitch_shift", params={"semitones": -4.0}),
            EffectSpec(kind="compressor", params={"threshold_db": -18.0, "ratio": 3.0}),
        ],
        "hall": [EffectSpec(kind="reverb", params={"room_size": 0.6, "wet_level": 0.25})],
        "robot": [
            EffectSpec(kind="chorus", params={"rate_hz": 30.0, "depth": 0.6, "mix": 0.6}),
            EffectSpec(kind="bitcrush", params={"bit_depth": 10.0}),
        ],
    }


class EffectsSettings(Section):
    preset: str = "none"
    presets: dict[str, list[EffectSpec]] = Field(default_factory=_default_presets)

    @field_validator("presets")
    @classmethod
    def _keep_none(cls, v: dict[str, list[EffectSpec]]) -> dict[str, list[EffectSpec]]:
        v.setdefault("none", [])
        return v


class PersonaSettings(Section):
    name: str = Field("Vox", min_length=1, max_length=40, description="The co-host's name")
    streamer_name: str = Field("the streamer", max_length=60)


class SafetySettings(Section):
    use_default_blocklist: bool = True
    blocklist: list[str] = Field(default_factory=list, description="The streamer's own terms")
    allowlist: list[str] = Field(default_factory=list, description="Words never flagged")
    answer_mode: Literal["all", "mentions", "keyword", "subscribers", "bits", "redemptions"] = (
        "mentions"
    )
    keyword: str = "!ask"
    min_bits: int = Field(100, ge=1)
    redemptions: list[str] = Field(default_factory=list)
    user_cooldown_s: float = Field(30.0, ge=0.0)
    max_age_s: float = Field(60.0, gt=0.0)
    queue_size: int = Field(50, ge=1, le=10000)
    chat_min_interval_s: float = Field(20.0, ge=0.0, description="Least time between chat turns")
    max_input_chars: int = Field(400, ge=20, le=5000)
    duplicate_window_s: float = Field(120.0, ge=0.0, description="Same message ignored this long")
    streamer_holdoff_s: float = Field(
        5.0, ge=0.0, description="Chat waits this long after the streamer's own turn"
    )


class TwitchSettings(Section):
    enabled: bool = False
    client_id: str = ""
    channel: str = Field("", description="Channel (broadcaster) login to read")
    bot_login: str = Field("", description="Account that reads and replies; empty = channel")
    reply_in_chat: bool = False
    is_moderator: bool = False
    api_base: str = "https://api.twitch.tv/helix"
    auth_base: str = "https://id.twitch.tv/oauth2"
    eventsub_url: str = "wss://eventsub.wss.twitch.tv/ws"


class DiscordSettings(Section):
    enabled: bool = False
    allowed_channels: list[int] = Field(default_factory=list)
    answer_mentions: bool = True
    answer_dms: bool = False
    moderator_role: str = Field("", description="Role allowed to use slash commands")
    voice_channel_id: int = 0
    voice_output: Literal["local", "discord", "both"] = "local"
    api_base: str = "https://discord.com/api/v10"
    gateway_url: str = ""


class VTubeStudioSettings(Section):
    enabled: bool = False
    url: str = "ws://localhost:8001"
    mouth_parameter: str = "MouthOpen"
    smile_parameter: str = ""
    mouth_gain: float = Field(4.0, gt=0.0, le=50.0)
    smoothing: float = Field(0.5, ge=0.0, lt=1.0)
    rate_hz: int = Field(40, ge=30, le=120)
    mood_hotkeys: dict[str, str] = Field(default_factory=dict, description="mood -> hotkey id")


class ModelsSettings(Section):
    endpoint: str = Field("", description="Hugging Face endpoint; empty = huggingface.co or HF_ENDPOINT")


class UISettings(Section):
    geometry: str = ""
    last_tab: int = 0
    show_timings: bool = True


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore", validate_assignment=True)

    schema_version: int = SCHEMA_VERSION
    audio: AudioSettings = Field(default_factory=AudioSettings)
    stt: STTSettings = Field(default_factory=STTSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    tts: TTSSettings = Field(default_factory=TTSSettings)
    effects: EffectsSettings = Field(default_factory=EffectsSettings)
    persona: PersonaSettings = Field(default_factory=PersonaSettings)
    safety: SafetySettings = Field(default_factory=SafetySettings)
    twitch: TwitchSettings = Field(default_factory=TwitchSettings)
    discord: DiscordSettings = Field(default_factory=DiscordSettings)
    vtube_studio: VTubeStudioSettings = Field(default_factory=VTubeStudioSettings)
    models: ModelsSettings = Field(default_factory=ModelsSettings)
    ui: UISettings = Field(default_factory=UISettings)


SECTIONS = tuple(n for n in Settings.model_fields if n != "schema_version")


# --- migrations: each takes a raw dict of version N and returns version N+1 -------------


def _v1_to_v2(raw: dict[str, Any]) -> dict[str, Any]:
    # v1 kept the VAD settings in their own [vad] section and named end silence "silence_ms".
    vad = raw.pop("vad", {}) or {}
    audio = raw.setdefault("audio", {})
    for old, new in (
        ("threshold", "vad_threshold"),
        ("min_speech_ms", "vad_min_speech_ms"),
        ("silence_ms", "vad_end_silence_ms"),
    ):
        if old in vad:
            audio.setdefault(new, vad[old])
    raw["schema_version"] = 2
    return raw


MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}


def migrate(raw: dict[str, Any]) -> dict[str, Any]:
    version = raw.get("schema_version", 1)
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"schema_version must be a positive integer, not {version!r}")
    if version > SCHEMA_VERSION:
        raise ValueError(
            f"the file is from a newer Voxelle (schema {version}; this one reads up to "
            f"{SCHEMA_VERSION})"
        )
    while version < SCHEMA_VERSION:
        raw = MIGRATIONS[version](raw)
        version = raw["schema_version"]
    return raw


# --- environment overrides ------------------------------------------------------------


def env_overrides(environ: dict[str, str] | os._Environ[str]) -> dict[str, dict[str, Any]]:
    """``VOXELLE_LLM__TEMPERATURE=0.2`` → ``{"llm": {"temperature": 0.2}}``."""
    out: dict[str, dict[str, Any]] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].partition("__")
        section, key = section.lower(), key.lower()
        if section not in SECTIONS or not key:
            continue
        try:
            parsed: Any = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        # A field typed str must stay a str even when the text looks like JSON ("123").
        section_type = Settings.model_fields[section].annotation
        field_info = getattr(section_type, "model_fields", {}).get(key)
        if field_info is not None and field_info.annotation is str:
            parsed = value
        out.setdefault(section, {})[key] = parsed
    return out


def _deep_merge(base: dict[str, Any], extra: dict[str, dict[str, Any]]) -> dict[str, Any]:
    merged = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    for section, values in extra.items():
        merged.setdefault(section, {}).update(values)
    return merged


@dataclass
class LoadResult:
    settings: Settings
    messages: list[str] = field(default_factory=list)  # for the user: what went wrong and where
    kept_aside: Path | None = None


class SettingsStore:
    """Loads and saves ``settings.toml``; remembers which values came from the environment."""

    def __init__(self, path: Path, environ: dict[str, str] | None = None) -> None:
        self.path = path
        self._environ = os.environ if environ is None else environ
        self._file_data: dict[str, Any] = {}
        self.overrides: dict[str, dict[str, Any]] = {}

    def load(self) -> LoadResult:
        messages: list[str] = []
        kept_aside: Path | None = None
        raw: dict[str, Any] = {}
        if self.path.exists():
            try:
                raw = migrate(tomllib.loads(self.path.read_text(encoding="utf-8")))
                Settings.model_validate(raw)
            except (tomllib.TOMLDecodeError, UnicodeDecodeError, ValueError, KeyError) as exc:
                kept_aside = self._keep_aside()
                messages.append(
                    f"Your settings file could not be read ({_short(exc)}). It was kept as "
                    f"{kept_aside} and Voxelle started with default settings; copy any values "
                    "you need from it in the app."
                )
                raw = {}
        self._file_data = raw
        self.overrides = env_overrides(self._environ)
        try:
            settings = Settings.model_validate(_deep_merge(raw, self.overrides))
        except ValidationError as exc:
            messages.append(
                f"Ignored environment overrides that are not valid ({_short(exc)}). "
                "Check the VOXELLE_<SECTION>__<KEY> variables."
            )
            self.overrides = {}
            settings = Settings.model_validate(raw)
        return LoadResult(settings, messages, kept_aside)

    def check(self) -> str | None:
        """Why the file on disk would not load, or None; reads only, moves nothing."""
        if not self.path.exists():
            return None
        try:
            Settings.model_validate(migrate(tomllib.loads(self.path.read_text(encoding="utf-8"))))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, ValueError, KeyError) as exc:
            return _short(exc)
        return None

    def save(self, settings: Settings) -> None:
        """Write atomically; values overridden by the environment keep their file values."""
        data = settings.model_dump(mode="json")
        for section, values in self.overrides.items():
            for key in values:
                file_value = self._file_data.get(section, {}).get(key)
                if file_value is None:
                    data[section].pop(key, None)
                else:
                    data[section][key] = file_value
        data["schema_version"] = SCHEMA_VERSION
        atomic_write_text(self.path, tomli_w.dumps(data))
        self._file_data = data

    def _keep_aside(self) -> Path:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = self.path.with_name(f"{self.path.name}.broken-{stamp}")
        n = 1
        while target.exists():
            target = self.path.with_name(f"{self.path.name}.broken-{stamp}-{n}")
            n += 1
        self.path.rename(target)
        return target


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        parts = [
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:3]
        ]
        return "; ".join(parts)
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
