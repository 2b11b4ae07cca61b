"""The TTS interface: text in, mono float32 chunks out as they are made.

``synthesize`` is a blocking generator: iterate it in the model's worker thread
(``ModelWorker.stream``) so the first chunk can play before the rest is made.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator

import numpy as np

_CLAUSE = re.compile(r"(?<=[,;:\u2014])\s+")


class TextToSpeech(ABC):
    name: str = "tts"
    sample_rate: int = 22050

    @abstractmethod
    def load(self) -> None: ...

    @abstractmethod
    def synthesize(self, text: str) -> Iterator[np.ndarray]: ...


def clauses(text: str, min_chars: int = 40) -> list[str]:
    """Split a long sentence at clause punctuation so its first part can be voiced sooner.

    Short pieces are merged with the next one: a clause of two words alone sounds clipped.
    """
    parts = [p for p in _CLAUSE.split(text.strip()) if p]
    out: list[str] = []
    buf = ""
    for p in parts:
        buf = f"{buf} {p}".strip() if buf else p
        if len(buf) >= min_chars:
            out.append(buf)
            buf = ""
    if buf:
        if out and len(buf) < min_chars // 2:
            out[-1] = f"{out[-1]} {buf}"
        else:
            out.append(buf)
    return out or ([text.strip()] if text.strip() else [])
