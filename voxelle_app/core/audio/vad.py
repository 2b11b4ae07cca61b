"""Voice activity: Silero VAD (the ONNX file faster-whisper ships) and an endpointer.

``SileroVAD`` runs the v6 model on onnxruntime, 512-sample windows at 16 kHz with 64
samples of context and its recurrent state carried between windows (no torch).
``Endpointer`` turns per-window speech probabilities into utterances: speech starts after
``min_speech_ms`` above the threshold, ends after ``end_silence_ms`` below it, and the
utterance is cut from a ring buffer with ``preroll_ms`` before the onset so first
syllables are not lost.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voxelle_app.core.errors import ConfigurationError

RATE = 16000
WINDOW = 512
CONTEXT = 64
MAX_UTTERANCE_S = 30.0


def default_vad_path() -> Path:
    try:
        import faster_whisper
    except ImportError:
        raise ConfigurationError(
            "faster-whisper is not installed, and it ships the voice activity model.",
            hint="Run scripts/run.sh again (or pip install faster-whisper).",
            component="vad",
        ) from None
    return Path(faster_whisper.__file__).parent / "assets" / "silero_vad_v6.onnx"


class SileroVAD:
    def __init__(self, model_path: Path | None = None) -> None:
        import onnxruntime

        path = model_path or default_vad_path()
        if not path.exists():
            raise ConfigurationError(f"The VAD model {path} is missing.", component="vad")
        opts = onnxruntime.SessionOptions()
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = 1
        opts.log_severity_level = 4
        self._session = onnxruntime.InferenceSession(
            str(path), providers=["CPUExecutionProvider"], sess_options=opts
        )
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)

    def probability(self, window: np.ndarray) -> float:
        """Speech probability of one 512-sample window at 16 kHz."""
        frame = np.concatenate([self._context, window.astype(np.float32)])[None, :]
        out, self._h, self._c = self._session.run(None, {"input": frame, "h": self._h, "c": self._c})
        self._context = window[-CONTEXT:].astype(np.float32)
        return float(np.asarray(out).reshape(-1)[0])


@dataclass(frozen=True)
class VADConfig:
    threshold: float = 0.5
    min_speech_ms: int = 250
    end_silence_ms: int = 500
    preroll_ms: int = 300
    tentative_ms: int = 200  # silence after which STT may start early (0: never)


@dataclass(frozen=True)
class SpeechStart:
    onset_sample: int  # where speech began, in samples since the stream started


@dataclass(frozen=True)
class TentativeEnd:
    """Silence has begun; the turn may be over. Lets STT start before the end is certain."""

    audio: np.ndarray
    offset_sample: int


@dataclass(frozen=True)
class Utterance:
    audio: np.ndarray  # from onset - preroll to offset + a short tail
    onset_sample: int
    offset_sample: int  # where speech ended (before the end-of-turn silence)
    decided_sample: int  # when the endpointer decided (offset + end_silence)

    @property
    def duration(self) -> float:
        return (self.offset_sample - self.onset_sample) / RATE


class Endpointer:
    """Feeds 16 kHz audio in any block size; returns SpeechStart / Utterance as they happen."""

    def __init__(self, vad: SileroVAD, config: VADConfig) -> None:
        self.vad = vad
        self.config = config
        self._pending = np.zeros(0, dtype=np.float32)
        self._history: collections.deque[np.ndarray] = collections.deque()
        self._history_samples = 0
        self._samples = 0  # samples consumed into windows
        self._speaking = False
        self._run = 0  # consecutive windows above (silence) or below (speech) threshold
        self._run_start = 0
        self._onset = 0
        self._utterance: list[np.ndarray] = []
        self.last_probability = 0.0

    @property
    def speaking(self) -> bool:
        return self._speaking

    def reset(self) -> None:
        self.vad.reset()
        self._pending = np.zeros(0, dtype=np.float32)
        self._history.clear()
        self._history_samples = 0
        self._speaking = False
        self._run = 0
        self._utterance = []

    def feed(self, block: np.ndarray) -> list[SpeechStart | TentativeEnd | Utterance]:
        out: list[SpeechStart | TentativeEnd | Utterance] = []
        self._pending = np.concatenate([self._pending, block.astype(np.float32)])
        while self._pending.size >= WINDOW:
            window, self._pending = self._pending[:WINDOW], self._pending[WINDOW:]
            event = self._window(window)
            if event is not None:
                out.append(event)
        return out

    def _window(self, window: np.ndarray) -> SpeechStart | TentativeEnd | Utterance | None:
        cfg = self.config
        p = self.vad.probability(window)
        self.last_probability = p
        start = self._samples
        self._samples += WINDOW
        if not self._speaking:
            self._remember(window)
            if p >= cfg.threshold:
                if self._run == 0:
                    self._run_start = start
                self._run += 1
                if self._run * WINDOW >= cfg.min_speech_ms * RATE / 1000:
                    return self._begin()
            else:
                self._run = 0
            return None
        self._utterance.append(window)
        if p < max(cfg.threshold - 0.15, 0.01):
            if self._run == 0:
                self._run_start = start
            self._run += 1
            silence_ms = self._run * WINDOW * 1000 / RATE
            if silence_ms >= cfg.end_silence_ms:
                return self._end(offset=self._run_start)
            if 0 < cfg.tentative_ms < cfg.end_silence_ms and (
                silence_ms - WINDOW * 1000 / RATE < cfg.tentative_ms <= silence_ms
            ):
                return self._tentative(offset=self._run_start)
        else:
            self._run = 0
        if self._samples - self._onset >= MAX_UTTERANCE_S * RATE:
            return self._end(offset=self._samples)
        return None

    def _remember(self, window: np.ndarray) -> None:
        keep = int((self.config.preroll_ms + self.config.min_speech_ms) * RATE / 1000) + WINDOW
        self._history.append(window)
        self._history_samples += window.size
        while self._history_samples - self._history[0].size >= keep:
            self._history_samples -= self._history.popleft().size

    def _begin(self) -> SpeechStart:
        self._speaking = True
        self._onset = self._run_start
        preroll = int(self.config.preroll_ms * RATE / 1000)
        history = np.concatenate(list(self._history)) if self._history else np.zeros(0, np.float32)
        history_start = self._samples - history.size
        first = max(self._onset - preroll, history_start)
        self._utterance = [history[first - history_start :]]
        self._utterance_start = first
        self._history.clear()
        self._history_samples = 0
        self._run = 0
        return SpeechStart(onset_sample=self._onset)

    def _cut(self, offset: int) -> np.ndarray:
        audio = np.concatenate(self._utterance)
        tail = int(0.15 * RATE)
        return audio[: max(0, offset - self._utterance_start + tail)]

    def _tentative(self, offset: int) -> TentativeEnd:
        return TentativeEnd(self._cut(offset), offset)

    def _end(self, offset: int) -> Utterance:
        audio = self._cut(offset)
        utterance = Utterance(audio, self._onset, offset, self._samples)
        self._speaking = False
        self._run = 0
        self._utterance = []
        return utterance
