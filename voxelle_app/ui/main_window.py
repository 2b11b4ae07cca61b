"""The main window: panels in tabs, an error banner, a status bar, and a clean shutdown."""

from __future__ import annotations

import asyncio
import logging

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QCloseEvent, QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from voxelle_app import __version__
from voxelle_app.core.context import AppContext
from voxelle_app.core.errors import describe
from voxelle_app.core.events import StageError, StageStatus
from voxelle_app.ui.bridge import Bridge
from voxelle_app.ui.panels.audio import AudioPanel
from voxelle_app.ui.panels.log import LogPanel
from voxelle_app.ui.panels.models import ModelsPanel
from voxelle_app.ui.panels.persona import PersonaPanel
from voxelle_app.ui.tasks import TaskKeeper
from voxelle_app.ui.widgets.status_badge import StatusBadge

_log = logging.getLogger("voxelle.ui")


class ErrorBanner(QFrame):
    """A dismissible line of text at the top of the window for things that went wrong."""

    def __init__(self) -> None:
        super().__init__()
        self.setStyleSheet(
            "ErrorBanner { background: #3b1d1d; border: 1px solid #7f1d1d; border-radius: 4px; }"
            " QLabel { color: #fecaca; }"
        )
        self.label = QLabel("")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QPushButton("Dismiss")
        close.clicked.connect(self.hide)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 8, 4)
        row.addWidget(self.label, 1)
        row.addWidget(close)
        self.hide()

    def show_message(self, text: str) -> None:
        self.label.setText(text)
        self.show()


class MainWindow(QMainWindow):
    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.setWindowTitle(f"Voxelle {__version__} — AI co-host")
        self.resize(1100, 720)
        self.bridge = Bridge(ctx.bus, self)
        self.banner = ErrorBanner()
        self.tasks = TaskKeeper(self.banner.show_message)
        self._closed = asyncio.Event()
        self._shutting_down = False
        self._shutdown_done = False

        self.tabs = QTabWidget()
        self.audio_panel = AudioPanel(ctx, self.bridge, self.tasks)
        self.persona_panel = PersonaPanel(ctx)
        self.models_panel = ModelsPanel(ctx, self.bridge, self.tasks)
        self.log_panel = LogPanel(self.bridge, str(ctx.log_file))
        self.tabs.addTab(self.audio_panel, "Audio")
        self.tabs.addTab(self.models_panel, "Models")
        self.tabs.addTab(self.persona_panel, "Persona")
        self.tabs.addTab(self.log_panel, "Log")
        self.persona_panel.dirty_changed.connect(self._persona_dirty)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(self.banner)
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

        self.mic_badge = StatusBadge()
        self.out_badge = StatusBadge()
        self.status_text = QLabel("Starting…")
        bar = self.statusBar()
        bar.addWidget(self.status_text, 1)
        bar.addPermanentWidget(QLabel("Mic"))
        bar.addPermanentWidget(self.mic_badge)
        bar.addPermanentWidget(QLabel("Output"))
        bar.addPermanentWidget(self.out_badge)

        self.bridge.on(StageError, self._on_error)
        self.bridge.on(StageStatus, self._on_status)
        quit_shortcut = QShortcut(QKeySequence(QKeySequence.StandardKey.Quit), self)
        quit_shortcut.activated.connect(self.close)
        self.tabs.setCurrentIndex(min(ctx.settings.ui.last_tab, self.tabs.count() - 1))
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)
        for message in ctx.messages:
            self.banner.show_message(message)

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Open devices, fill pickers and load models, all without blocking the window."""
        self.audio_panel.refresh()
        self.tasks.spawn(self.ctx.hearing.load(), "Loading the speech model")
        self.tasks.spawn(self.ctx.voice.load(), "Loading the voice")
        self.tasks.spawn(self.ctx.llm.load(), "Loading the language model")
        await self.ctx.director.start()
        await self.ctx.audio.start()
        self.status_text.setText("Ready.")

    async def run(self) -> None:
        self.show()
        self.tasks.spawn(self.start(), "Starting audio")
        await self._closed.wait()

    async def shutdown(self) -> None:
        """Stop every task and stream, then save settings. Safe to call twice."""
        if self._shutdown_done:
            return
        self.status_text.setText("Closing…")
        await self.tasks.cancel_all()
        for integration in self.ctx.integrations:
            try:
                await integration.stop()
            except Exception as exc:
                _log.warning("stopping %s: %s", integration.name, describe(exc))
        await self.ctx.stop_core()
        self.ctx.settings.ui.last_tab = self.tabs.currentIndex()
        try:
            self.ctx.save_settings()
        except Exception as exc:
            _log.error("could not save settings: %s", describe(exc))
        self.bridge.close()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        self._shutdown_done = True

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._shutdown_done:
            event.accept()
            self._closed.set()
            return
        event.ignore()
        if not self._shutting_down:
            self._shutting_down = True
            task = asyncio.ensure_future(self._shutdown_then_close())
            self._closing_task = task

    async def _shutdown_then_close(self) -> None:
        try:
            await self.shutdown()
        finally:
            self._shutdown_done = True
            self.close()

    # --- push to talk ------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease) and isinstance(
            event, QKeyEvent
        ) and not event.isAutoRepeat() and self.ctx.settings.audio.listen_mode == "push_to_talk":
            key = QKeySequence(self.ctx.settings.audio.push_to_talk_key)
            if key.count() and event.keyCombination() == key[0]:  # type: ignore[index]
                self.ctx.hearing.push_to_talk(event.type() == QEvent.Type.KeyPress)
                return True
        return False

    # --- events ------------------------------------------------------------------------

    def _on_error(self, event: object) -> None:
        assert isinstance(event, StageError)
        self.banner.show_message(f"{event.component}: {event.message}")

    def _on_status(self, event: object) -> None:
        assert isinstance(event, StageStatus)
        badge = {"microphone": self.mic_badge, "speakers": self.out_badge}.get(event.component)
        if badge is not None:
            badge.set_state(event.state, event.detail)

    def _persona_dirty(self, dirty: bool) -> None:
        index = self.tabs.indexOf(self.persona_panel)
        self.tabs.setTabText(index, "Persona •" if dirty else "Persona")
