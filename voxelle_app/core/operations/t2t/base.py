"""The T2T interface: chat messages in, tokens out one by one (a blocking generator)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Literal, TypedDict


class ChatMessageDict(TypedDict):
    role: Literal["system", "user", "assistant"]
    content: str  # always a plain string: some chat templates crash on lists of parts


class TextToText(ABC):
    name: str = "llm"

    @abstractmethod
    def load(self) -> None: ...

    @abstractmethod
    def stream(self, messages: list[ChatMessageDict], max_tokens: int) -> Iterator[str]:
        """Yield the reply piece by piece; closing the generator stops generation."""

    @abstractmethod
    def count_tokens(self, text: str) -> int: ...
