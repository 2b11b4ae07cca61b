"""The main window: panels in tabs, an error banner, a status bar, and a clean shutdown."""

from __future__ import annotations

import asyncio
import logging
from typing import cast

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QCloseEvent, QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QScrollArea,
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
from voxelle_app.ui.panels.avatar import AvatarIntegration, AvatarPanel
from voxelle_app.ui.panels.conversation import ConversationPanel
from voxelle_app.ui.panels.discord_account import DiscordAccountPanel
from voxelle_app.ui.panels.integrations import IntegrationsPanel
from voxelle_app.ui.panels.log import LogPanel
from voxelle_app.ui.panels.model_downloads import ModelDownloadsPanel
from voxelle_app.ui.panels.models import ModelsPanel
from voxelle_app.ui.panels.persona import PersonaPanel
from voxelle_app.ui.panels.safety import SafetyPanel
from voxelle_app.ui.panels.twitch_account import TwitchAccountPanel
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
        self.resize(1180, 760)
        self.bridge = Bridge(ctx.bus, self)
        self.banner = ErrorBanner()
        self.tasks = TaskKeeper(self.banner.show_message)
        self._closed = asyncio.Event()
        self._shutting_down = False
        self._shutdown_done = False

        self.tabs = QTabWidget()
        self.conversation_panel = ConversationPanel(ctx, self.bridge)
        self.audio_panel = AudioPanel(ctx, self.bridge, self.tasks)
        self.persona_panel = PersonaPanel(ctx)
        self.models_panel = ModelsPanel(ctx, self.bridge, self.tasks, self._installed_models)
        self.downloads_panel = (
            ModelDownloadsPanel(ctx.models, self.tasks) if ctx.models is not None else None
        )
        self.safety_panel = SafetyPanel(ctx, self.bridge, self.tasks)
        accounts: dict[str, QWidget] = {}
        if ctx.twitch_account is not None:
            accounts["twitch"] = TwitchAccountPanel(ctx.twitch_account, self.tasks)
        if ctx.discord_account is not None:
            accounts["discord"] = DiscordAccountPanel(ctx.discord_account)
        self.integrations_panel = IntegrationsPanel(
            ctx.settings, ctx.integrations, accounts, self.bridge, self.tasks, ctx.save_settings
        )
        self.avatar_panel = (
            AvatarPanel(ctx.settings, cast(AvatarIntegration, ctx.avatar), self.bridge, self.tasks,
                        ctx.save_settings)
            if ctx.avatar is not None else None
        )
        self.log_panel = LogPanel(self.bridge, str(ctx.log_file))
        self.tabs.addTab(self.conversation_panel, "Conversation")
        self._add_scrolling(self.audio_panel, "Audio")
        self._add_scrolling(self.models_panel, "Models")
        if self.downloads_panel is not None:
            self._add_scrolling(self.downloads_panel, "Downloads")
            self.downloads_panel.model_installed.connect(self._model_installed)
        self.tabs.addTab(self.persona_panel, "Persona")
        self._add_scrolling(self.safety_panel, "Safety")
        self._add_scrolling(self.integrations_panel, "Integrations")
        if self.avatar_panel is not None:
            self._add_scrolling(self.avatar_panel, "Avatar")
        self.tabs.addTab(self.log_panel, "Log")
        self.safety_panel.dirty_changed.connect(
            lambda dirty: self._mark_tab(self.safety_panel, "Safety", dirty))
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
        if self.ctx.twitch_account is not None:
            self.tasks.spawn(self.ctx.twitch_account.restore_sign_in(), "Checking the Twitch sign-in")
        for integration in self.ctx.integrations:
            if self.ctx.is_enabled(integration.name):
                self.tasks.spawn(integration.start(), f"Connecting to {integration.title}")
        await self.ctx.audio.start()
        self.status_text.setText("Ready.")

    async def run(self) -> None:
        self.show()
        self.activateWindow()
        if self.tabs.currentWidget() is self.conversation_panel:
            self.conversation_panel.input.setFocus()
        _log.info("window shown", extra={"category": "PERFORMANCE"})
        self.tasks.spawn(self.start(), "Starting audio")
        await self._closed.wait()

    async def shutdown(self) -> None:
        """Stop every task and stream, then save settings. Safe to call twice."""
        if self._shutdown_done:
            return
        self.status_text.setText("Closing…")
        if self.downloads_panel is not None:
            await self.downloads_panel.shutdown()
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

    # --- models ------------------------------------------------------------------------

    def _installed_models(self, kind: str) -> list[tuple[str, str]]:
        manager = self.ctx.models
        if manager is None:
            return []
        return [(st.name, str(manager.path_of(st.name))) for st in manager.list()
                if st.state == "installed" and st.entry.kind == kind]

    def _model_installed(self, name: str, kind: str, path: str) -> None:
        combo = {"stt": self.models_panel.stt_combo, "llm": self.models_panel.llm_combo,
                 "tts": self.models_panel.tts_combo}.get(kind)
        if combo is not None and combo.findData(path) < 0:
            combo.insertItem(combo.count() - 1, name, path)
        self.status_text.setText(f"{name} is installed: pick it in the Models tab.")

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
        self._mark_tab(self.persona_panel, "Persona", dirty)

    def _add_scrolling(self, panel: QWidget, title: str) -> None:
        """Long panels scroll instead of forcing the window wider than a laptop screen."""
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(panel)
        self.tabs.addTab(scroll, title)

    def tab_of(self, panel: QWidget) -> int:
        for i in range(self.tabs.count()):
            page = self.tabs.widget(i)
            if page is panel or (isinstance(page, QScrollArea) and page.widget() is panel):
                return i
        return -1

    def _mark_tab(self, panel: QWidget, title: str, dirty: bool) -> None:
        self.tabs.setTabText(self.tab_of(panel), f"{title} •" if dirty else title)
