"""UI tests drive the real window on a qasync loop (Qt and asyncio on one thread)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import qasync
from PySide6.QtWidgets import QApplication


class QLoop:
    def __init__(self, loop: qasync.QEventLoop) -> None:
        self.loop = loop

    def run(self, awaitable: Awaitable[Any], timeout: float = 30.0) -> Any:
        return self.loop.run_until_complete(asyncio.wait_for(awaitable, timeout))

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
        async def poll() -> None:
            while not predicate():
                await asyncio.sleep(0.02)

        self.run(poll(), timeout)

    def sleep(self, seconds: float) -> None:
        self.run(asyncio.sleep(seconds), seconds + 5)


@pytest.fixture
def qloop(qapp: QApplication) -> Iterator[QLoop]:
    qapp.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    yield QLoop(loop)
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for t in pending:
        t.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.close()  # shuts down its executor threads
    asyncio.set_event_loop(None)
    # Collect Qt wrappers now, on the GUI thread: left to chance, the garbage collector may
    # run in a worker thread and destroy Qt objects (timers) there, which crashes Qt.
    gc.collect()
