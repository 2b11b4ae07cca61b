"""The typed events that travel on the bus: the project's vocabulary.

Every event is a frozen dataclass. ``t`` is ``time.monotonic()`` at creation, so timings
between events are comparable; ``wall`` is wall-clock time for logs and event files.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

Source = Literal["voice", "typed", "twitch", "discord", "system"]
AgentState = Literal["idle", "listening", "thinking", "speaking"]
StageState = Literal["unavailable", "loading", "ready", "failed", "disabled"]
ConnectionState = Literal[
    "disabled", "connecting", "authenticating", "connected", "reconnecting", "failed", "stopped"
]


@dataclass(frozen=True, kw_only=True)
class Event:
    t: float = field(default_factory=time.monotonic)
    wall: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (no audio buffers), with the event's type name."""
        data: dict[str, Any] = {"type": type(self).__name__}
        for f in fields(self):
            value = getattr(self, f.name)
            if hasattr(value, "tolist") and hasattr(value, "dtype"):
                continue  # numpy arrays stay out of event files
            data[f.name] = asdict(value) if hasattr(value, "__dataclass_fields__") else value
        return data


# --- application and diagnostics -------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class LogLine(Event):
    category: str
    level: str
    message: str


@dataclass(frozen=True, kw_only=True)
class StageError(Event):
    """An error in one stage or integration, shown to the user; the app keeps running."""

    component: str
    message: str


@dataclass(frozen=True, kw_only=True)
class StageStatus(Event):
    """A model stage's state: loading, ready, failed (with the reason)."""

    component: str  # "stt", "tts", "llm", "vad", "effects"
    state: StageState
    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class IntegrationStatus(Event):
    integration: str  # "twitch", "discord", "vtube_studio"
    state: ConnectionState
    detail: str = ""


# --- hearing ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class InputLevel(Event):
    rms: float
    peak: float


@dataclass(frozen=True, kw_only=True)
class SpeechStarted(Event):
    """The streamer started speaking (VAD), used for barge-in."""

    stream_time: float = 0.0


@dataclass(frozen=True, kw_only=True)
class SpeechEnded(Event):
    """End of the streamer's turn: VAD saw enough trailing silence."""

    duration: float
    stream_time: float = 0.0


@dataclass(frozen=True, kw_only=True)
class TranscriptFinal(Event):
    text: str
    language: str
    audio_seconds: float
    stt_seconds: float
    speech_end_t: float  # monotonic time the speech ended


# --- what the co-host reads -------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class UserInput(Event):
    """Something the co-host may answer, labelled by its source."""

    source: Source
    text: str
    user: str = ""
    priority: int = 0
    speech_end_t: float | None = None  # for voice: when the streamer stopped talking
    origin: ChatMessage | StreamEvent | None = None  # what a chat input answers


@dataclass(frozen=True, kw_only=True)
class ChatMessage(Event):
    platform: Literal["twitch", "discord"]
    user: str
    text: str
    user_id: str = ""
    message_id: str = ""
    channel: str = ""
    is_subscriber: bool = False
    is_moderator: bool = False
    bits: int = 0
    mentions_bot: bool = False


@dataclass(frozen=True, kw_only=True)
class StreamEvent(Event):
    """A Twitch channel event: follow, sub, gift sub, cheer, raid, redemption."""

    kind: Literal["follow", "subscribe", "gift_sub", "cheer", "raid", "redemption"]
    user: str
    amount: int = 0
    text: str = ""
    reward: str = ""


@dataclass(frozen=True, kw_only=True)
class InputDropped(Event):
    """An input the selection or the safety layer chose not to answer."""

    source: Source
    user: str
    text: str
    reason: str


# --- thinking and speaking -------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AgentStateChanged(Event):
    state: AgentState


@dataclass(frozen=True, kw_only=True)
class ReplyStarted(Event):
    turn_id: int
    source: Source
    user: str
    prompt_text: str
    origin: ChatMessage | StreamEvent | None = None


@dataclass(frozen=True, kw_only=True)
class ReplyToken(Event):
    turn_id: int
    text: str


@dataclass(frozen=True, kw_only=True)
class ReplySentence(Event):
    turn_id: int
    index: int
    text: str


@dataclass(frozen=True, kw_only=True)
class SentenceBlocked(Event):
    turn_id: int
    text: str
    matched: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class SpeechAudioStarted(Event):
    """The first sample of a sentence reached the output device."""

    turn_id: int
    index: int


@dataclass(frozen=True, kw_only=True)
class ReplyFinished(Event):
    turn_id: int
    spoken_text: str
    full_text: str
    interrupted: bool
    mood: str = ""
    source: Source = "typed"
    origin: ChatMessage | StreamEvent | None = None


@dataclass(frozen=True, kw_only=True)
class Interrupt(Event):
    reason: Literal["barge_in", "stop", "panic", "shutdown", "new_turn"]


@dataclass(frozen=True, kw_only=True)
class TurnTimings(Event):
    """Per-turn latency breakdown, seconds. None where a stage did not run."""

    turn_id: int
    source: Source
    end_of_speech_to_transcript: float | None
    to_first_token: float | None
    to_first_sentence: float | None
    to_first_audio: float | None


@dataclass(frozen=True, kw_only=True)
class PanicChanged(Event):
    active: bool


@dataclass(frozen=True, kw_only=True)
class EarsMuted(Event):
    muted: bool


# --- the avatar -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class MouthLevel(Event):
    """Loudness of the audio being played right now, 0..1 (observers: lip sync, meters)."""

    value: float


@dataclass(frozen=True, kw_only=True)
class MoodChanged(Event):
    mood: str
