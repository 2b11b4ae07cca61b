"""Run the Qt application on a qasync loop: one thread for Qt and asyncio."""

from __future__ import annotations

import asyncio
import signal
import sys

import qasync
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from voxelle_app.core.context import AppContext
from voxelle_app.ui.main_window import MainWindow
from voxelle_app.ui.style import STYLE


def run_app(ctx: AppContext, argv: list[str] | None = None) -> int:
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("Voxelle")
    app.setQuitOnLastWindowClosed(False)  # the window ends the loop itself, after shutdown
    app.setStyleSheet(STYLE)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    ctx.bus.attach(loop)
    window = MainWindow(ctx)
    # Ctrl+C in the terminal closes the window the same way the close button does. Python
    # only runs signal handlers when it gets control, so a timer gives it control.
    signal.signal(signal.SIGINT, lambda *_: loop.call_soon_threadsafe(window.close))
    signal.signal(signal.SIGTERM, lambda *_: loop.call_soon_threadsafe(window.close))
    wake = QTimer()
    wake.start(200)
    wake.timeout.connect(lambda: None)
    try:
        with loop:
            loop.run_until_complete(window.run())
    finally:
        wake.stop()
        ctx.bus.detach()
        signal.signal(signal.SIGINT, signal.default_int_handler)
    return 0
