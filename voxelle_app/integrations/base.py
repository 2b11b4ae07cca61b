"""The Integration interface: start, stop, state, and a supervised session with backoff.

A subclass implements ``session()``: connect, authenticate, and serve until the
connection ends (return or raise). The supervisor reconnects with exponential backoff and
jitter, resets the backoff after a session that lasted, and stops retrying on an
``AuthenticationError`` (a refused token will not get better by retrying; the user must act).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from abc import ABC, abstractmethod

from voxelle_app.core.bus import EventBus
from voxelle_app.core.errors import AuthenticationError, ConfigurationError, describe
from voxelle_app.core.events import ConnectionState, IntegrationStatus
from voxelle_app.core.logs import Category


class Backoff:
    def __init__(self, initial: float = 1.0, maximum: float = 60.0, factor: float = 2.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.attempt = 0

    def next_delay(self) -> float:
        delay = min(self.maximum, self.initial * self.factor**self.attempt)
        self.attempt += 1
        return delay * random.uniform(0.8, 1.2)

    def reset(self) -> None:
        self.attempt = 0


class Integration(ABC):
    name: str = "integration"
    title: str = "Integration"
    #: a session that lasted this long resets the backoff
    stable_after: float = 30.0

    def __init__(self, bus: EventBus, backoff: Backoff | None = None) -> None:
        self.bus = bus
        self.backoff = backoff or Backoff()
        self._state: ConnectionState = "stopped"
        self._detail = ""
        self._task: asyncio.Task[None] | None = None
        self.log = logging.LoggerAdapter(
            logging.getLogger(f"voxelle.{self.name}"), {"category": Category.INTEGRATION}
        )

    @property
    def state(self) -> ConnectionState:
        return self._state

    @property
    def detail(self) -> str:
        return self._detail

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def set_state(self, state: ConnectionState, detail: str = "") -> None:
        if (state, detail) == (self._state, self._detail):
            return
        self._state, self._detail = state, detail
        self.log.info("%s%s", state, f": {detail}" if detail else "")
        self.bus.publish(IntegrationStatus(integration=self.name, state=state, detail=detail))

    async def start(self) -> None:
        if self.running:
            return
        self._task = asyncio.create_task(self._supervise(), name=f"voxelle-{self.name}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.close()
        self.set_state("stopped")

    async def close(self) -> None:
        """Release connections; called on stop. Subclasses extend it."""

    @abstractmethod
    async def session(self) -> None:
        """Connect, authenticate, serve until the connection ends."""

    async def _supervise(self) -> None:
        while True:
            started = time.monotonic()
            self.set_state("connecting")
            try:
                await self.session()
                reason = "the connection closed"
            except asyncio.CancelledError:
                raise
            except (AuthenticationError, ConfigurationError) as exc:
                self.set_state("failed", describe(exc))
                return
            except Exception as exc:
                reason = describe(exc)
                self.log.warning("session ended: %s", reason)
            finally:
                with contextlib.suppress(Exception):
                    await self.close()
            if time.monotonic() - started >= self.stable_after:
                self.backoff.reset()
            delay = self.backoff.next_delay()
            self.set_state("reconnecting", f"{reason}; retrying in {delay:.0f} s")
            await asyncio.sleep(delay)
