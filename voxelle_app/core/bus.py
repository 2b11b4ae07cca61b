"""Typed publish/subscribe on the asyncio loop, with a thread-safe ``publish``.

Handlers are plain callables run on the loop thread; they observe and must be quick (a
slow observer would slow everyone). Workers and audio callbacks may ``publish`` from any
thread: the event is handed to the loop with ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

from voxelle_app.core.events import Event

E = TypeVar("E", bound=Event)
Handler = Callable[[E], object]

_log = logging.getLogger("voxelle.bus")


class EventBus:
    def __init__(self) -> None:
        self._handlers: dict[type[Event], list[Callable[[Event], object]]] = defaultdict(list)
        self._lock = threading.Lock()
        self._local = threading.local()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Bind to the loop that runs handlers; before this, publish dispatches inline."""
        self._loop = loop
        self._loop_thread = threading.get_ident()

    def detach(self) -> None:
        self._loop = None
        self._loop_thread = None

    def subscribe(self, event_type: type[E], handler: Callable[[E], object]) -> Callable[[], None]:
        """Call ``handler`` for every event of ``event_type`` or a subclass; returns an unsubscribe."""
        with self._lock:
            self._handlers[event_type].append(handler)  # type: ignore[arg-type]

        def unsubscribe() -> None:
            with self._lock:
                try:
                    self._handlers[event_type].remove(handler)  # type: ignore[arg-type]
                except ValueError:
                    pass

        return unsubscribe

    def publish(self, event: Event) -> None:
        loop = self._loop
        if loop is None or threading.get_ident() == self._loop_thread:
            self._dispatch(event)
            return
        try:
            loop.call_soon_threadsafe(self._dispatch, event)
        except RuntimeError:  # loop closed during shutdown: nobody is listening any more
            pass

    def _dispatch(self, event: Event) -> None:
        """Every handler sees events in the order they were published: an event published
        by a handler waits until the current event has reached all its handlers."""
        pending: deque[Event] | None = getattr(self._local, "pending", None)
        if pending is not None:
            pending.append(event)
            return
        pending = self._local.pending = deque([event])
        try:
            while pending:
                current = pending.popleft()
                with self._lock:
                    targets = [h for cls in type(current).__mro__ if cls in self._handlers
                               for h in self._handlers[cls]]
                for handler in targets:
                    try:
                        handler(current)
                    except Exception:  # an observer's bug must not break the publisher
                        _log.exception("event handler %r failed on %s", handler,
                                       type(current).__name__)
        finally:
            self._local.pending = None

    async def stream(self, event_type: type[E], maxsize: int = 1000) -> AsyncIterator[E]:
        """Iterate events of a type as they come (oldest dropped when the reader lags)."""
        queue: asyncio.Queue[E] = asyncio.Queue(maxsize)

        def put(event: E) -> None:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(event)

        unsubscribe = self.subscribe(event_type, put)
        try:
            while True:
                yield await queue.get()
        finally:
            unsubscribe()
