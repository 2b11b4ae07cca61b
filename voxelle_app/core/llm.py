"""The co-host's thinking: a language model in its own worker thread, tokens streamed back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

from voxelle_app.core.bus import EventBus
from voxelle_app.core.errors import ConfigurationError
from voxelle_app.core.operations.t2t.base import ChatMessageDict, TextToText
from voxelle_app.core.operations.t2t.llama_cpp import LlamaCppLLM
from voxelle_app.core.settings import Settings
from voxelle_app.core.stage import ModelStage


def llama_from_settings(settings: Settings) -> TextToText:
    s = settings.llm
    return LlamaCppLLM(
        Path(s.model).expanduser() if s.model else None, s.context_size, s.temperature, s.top_p,
        s.threads, s.seed,
    )


class LanguageModel(ModelStage):
    component = "llm"

    def __init__(
        self,
        settings: Settings,
        bus: EventBus,
        make_llm: Callable[[Settings], TextToText] = llama_from_settings,
    ) -> None:
        super().__init__(bus)
        self.settings = settings
        self.make_llm = make_llm
        self.llm: TextToText | None = None

    @property
    def ready(self) -> bool:
        return self.state == "ready" and self.llm is not None

    async def load(self) -> bool:
        self.llm = await self._load(
            self.make_llm(self.settings),
            self.settings.llm.model or "SmolLM2-135M-Instruct (bundled)",
        )
        return self.llm is not None

    def apply_sampling(self) -> None:
        """Temperature and top-p apply from the next reply without a reload."""
        llm = self.llm
        if isinstance(llm, LlamaCppLLM):
            llm.temperature = self.settings.llm.temperature
            llm.top_p = self.settings.llm.top_p

    def count_tokens(self, text: str) -> int:
        return self.llm.count_tokens(text) if self.llm is not None else max(1, len(text) // 4)

    async def stream(
        self, messages: list[ChatMessageDict], max_tokens: int | None = None
    ) -> AsyncIterator[str]:
        llm = self.llm
        if llm is None:
            raise ConfigurationError(
                "The language model is not loaded.",
                hint=self.detail or "Pick a model in the Models panel.", component="llm",
            )
        limit = max_tokens or self.settings.llm.max_reply_tokens
        async for piece in self.worker.stream(lambda: llm.stream(messages, limit)):
            yield piece

    def shutdown(self) -> None:
        self.worker.shutdown()
