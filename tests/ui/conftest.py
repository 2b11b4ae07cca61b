"""UI tests drive the real window on a qasync loop (Qt and asyncio on one thread)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import qasync
from PySide6.QtWidgets import QApplication

from voxelle_app.bootstrap import build_context
from voxelle_app.core.context import AppContext
from voxelle_app.ui.main_window import MainWindow


class QLoop:
    def __init__(self, loop: qasync.QEventLoop) -> None:
        self.loop = loop

    def run(self, awaitable: Awaitable[Any], timeout: float = 30.0) -> Any:
        """Like run_until_complete, without qasync's last pass over Qt events after the loop
        has stopped: asyncio callbacks run in that pass find no running loop, and a queue
        first awaited there is bound to "no loop" for good."""
        future = asyncio.ensure_future(asyncio.wait_for(awaitable, timeout), loop=self.loop)
        future.add_done_callback(lambda _: self.loop.stop())
        self.loop.run_forever()
        if not future.done():
            raise RuntimeError("the loop stopped before the awaited work finished")
        return future.result()

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
        async def poll() -> None:
            while not predicate():
                await asyncio.sleep(0.02)

        self.run(poll(), timeout)

    def do(self, action: Callable[[], object]) -> None:
        """Run a UI action (a qtbot click or key press) inside the running loop: Qt may run
        pending asyncio callbacks while it handles the event, and they need the loop set."""

        async def act() -> None:
            action()

        self.run(act())

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


@pytest.fixture
def ctx(voxelle_home: Path, qloop: QLoop) -> Iterator[AppContext]:
    """A real AppContext under a private VOXELLE_HOME, its bus on the test's loop."""
    c = build_context()
    c.bus.attach(qloop.loop)
    yield c
    qloop.run(c.stop_core())
    c.bus.detach()


@pytest.fixture
def window(ctx: AppContext, qloop: QLoop) -> Iterator[MainWindow]:
    """The real main window. Not qtbot.addWidget: pytest-qt closes those before fixtures
    end, outside the loop, and a close starts the asynchronous shutdown."""
    w = MainWindow(ctx)
    w.show()
    yield w
    qloop.run(w.shutdown())
    w.close()
    w.deleteLater()


@pytest.fixture
def errors() -> list[str]:
    """Where a TaskKeeper's failures land, for panels tested alone."""
    return []
