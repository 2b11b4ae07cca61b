"""The STT interface: 16 kHz mono float32 in, text out. Blocking: run it in the model's worker."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str
    language_probability: float
    audio_seconds: float
    compute_seconds: float


class SpeechToText(ABC):
    name: str = "stt"

    @abstractmethod
    def load(self) -> None:
        """Load the model (slow; called once in the worker thread)."""

    @abstractmethod
    def transcribe(self, audio: np.ndarray) -> Transcript: ...
