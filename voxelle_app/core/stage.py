"""What every model stage shares: a worker thread of its own, a state, and loading off the loop."""

from __future__ import annotations

import logging
from typing import Protocol, TypeVar

from voxelle_app.core.bus import EventBus
from voxelle_app.core.errors import describe
from voxelle_app.core.events import StageState, StageStatus
from voxelle_app.core.workers import ModelWorker

_log = logging.getLogger("voxelle.stage")


class Loadable(Protocol):
    name: str

    def load(self) -> None: ...


M = TypeVar("M", bound=Loadable)


class ModelStage:
    component = "stage"  # "stt" | "tts" | "llm": what StageStatus events name

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self.worker = ModelWorker(self.component)
        self.state: StageState = "unavailable"
        self.detail = ""

    def _status(self, state: StageState, detail: str = "") -> None:
        self.state, self.detail = state, detail
        self.bus.publish(StageStatus(component=self.component, state=state, detail=detail))

    async def _load(self, model: M, what: str) -> M | None:
        """Load ``model`` in this stage's worker; on failure report why and return None,
        leaving the app usable with this stage marked failed."""
        self._status("loading", what)
        try:
            await self.worker.run(model.load)
        except Exception as exc:
            self._status("failed", describe(exc))
            _log.error("%s failed to load: %s", self.component, describe(exc))
            return None
        self._status("ready", getattr(model, "label", model.name))
        return model
