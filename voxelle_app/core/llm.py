"""The co-host's thinking: a language model in its own worker thread, tokens streamed back."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from voxelle_app.core.bus import EventBus
from voxelle_app.core.errors import ConfigurationError, describe
from voxelle_app.core.events import StageState, StageStatus
from voxelle_app.core.operations.t2t.base import ChatMessageDict, TextToText
from voxelle_app.core.operations.t2t.llama_cpp import LlamaCppLLM
from voxelle_app.core.settings import Settings
from voxelle_app.core.workers import ModelWorker

_log = logging.getLogger("voxelle.llm")


def llama_from_settings(settings: Settings) -> TextToText:
    s = settings.llm
    return LlamaCppLLM(
        Path(s.model).expanduser() if s.model else None, s.context_size, s.temperature, s.top_p,
        s.threads, s.seed,
    )


class LanguageModel:
    def __init__(
        self,
        settings: Settings,
        bus: EventBus,
        make_llm: Callable[[Settings], TextToText] = llama_from_settings,
    ) -> None:
        self.settings = settings
        self.bus = bus
        self.make_llm = make_llm
        self.worker = ModelWorker("llm")
        self.llm: TextToText | None = None
        self.state: StageState = "unavailable"
        self.detail = ""

    @property
    def ready(self) -> bool:
        return self.state == "ready" and self.llm is not None

    def _status(self, state: StageState, detail: str = "") -> None:
        self.state, self.detail = state, detail
        self.bus.publish(StageStatus(component="llm", state=state, detail=detail))

    async def load(self) -> bool:
        self._status("loading", self.settings.llm.model or "SmolLM2-135M-Instruct (bundled)")
        llm = self.make_llm(self.settings)
        try:
            await self.worker.run(llm.load)
        except Exception as exc:
            self.llm = None
            self._status("failed", describe(exc))
            _log.error("language model failed to load: %s", describe(exc))
            return False
        self.llm = llm
        self._status("ready", getattr(llm, "label", llm.name))
        return True

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
