"""Scripted stages with set delays, for testing the director's timing and interruption logic
(as livekit/agents' tests/fake_stt.py does). They stand in for our own operations only; the
real backends have their own tests."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

import numpy as np

from voxelle_app.core.operations.t2t.base import ChatMessageDict, TextToText
from voxelle_app.core.operations.tts.base import TextToSpeech


class ScriptedLLM(TextToText):
    name = "scripted-llm"

    def __init__(self, replies: list[str] | str, first_token_delay: float = 0.05,
                 token_delay: float = 0.005) -> None:
        self.replies = [replies] if isinstance(replies, str) else list(replies)
        self.first_token_delay = first_token_delay
        self.token_delay = token_delay
        self.calls: list[list[ChatMessageDict]] = []
        self.produced = 0
        self.finished = threading.Event()

    def load(self) -> None:
        pass

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def stream(self, messages: list[ChatMessageDict], max_tokens: int) -> Iterator[str]:
        self.calls.append(messages)
        reply = self.replies[min(len(self.calls) - 1, len(self.replies) - 1)]
        time.sleep(self.first_token_delay)
        for token in re.findall(r"\S+\s*", reply)[:max_tokens]:
            self.produced += 1
            yield token
            time.sleep(self.token_delay)
        self.finished.set()


class ScriptedTTS(TextToSpeech):
    """Each sentence becomes a tone of ``seconds_per_word`` per word, after ``delay``."""

    name = "scripted-tts"

    def __init__(self, delay: float = 0.05, seconds_per_word: float = 0.15,
                 rate: int = 16000) -> None:
        self.delay = delay
        self.seconds_per_word = seconds_per_word
        self.sample_rate = rate
        self.spoken: list[str] = []
        self.done_at: dict[str, float] = {}

    def load(self) -> None:
        pass

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        self.spoken.append(text)
        time.sleep(self.delay)
        n = int(self.sample_rate * self.seconds_per_word * max(1, len(text.split())))
        t = np.arange(n) / self.sample_rate
        yield (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
        self.done_at[text] = time.monotonic()
