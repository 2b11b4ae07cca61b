"""Avatar panel: the VTube Studio connection, the live mouth, moods and their hotkeys.

The panel knows VTube Studio only through ``core.control`` protocols (the composition root
hands it the integration), and every call to VTube Studio runs as a kept task, so a slow or
absent VTube Studio never freezes the window.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Protocol

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from voxelle_app.core.control import AvatarControl, Expression, Hotkey, Switchable
from voxelle_app.core.errors import describe
from voxelle_app.core.events import IntegrationStatus
from voxelle_app.core.sentences import MOODS
from voxelle_app.core.settings import Settings
from voxelle_app.ui.bridge import Bridge
from voxelle_app.ui.tasks import TaskKeeper
from voxelle_app.ui.widgets.status_badge import StatusBadge

#: moods offered in the editor before the streamer adds their own: the ones replies carry
SUGGESTED_MOODS = MOODS
NOTHING = "(nothing)"
EXPRESSION_SUFFIX = ".exp3.json"


class AvatarIntegration(AvatarControl, Switchable, Protocol):
    """What the panel is handed: the avatar's controls and its on/off switch."""


class AvatarPanel(QWidget):
    def __init__(
        self,
        settings: Settings,
        avatar: AvatarIntegration,
        bridge: Bridge,
        tasks: TaskKeeper,
        save_settings: Callable[[], None],
    ) -> None:
        super().__init__()
        self.settings = settings
        self.avatar = avatar
        self.tasks = tasks
        self.save_settings = save_settings
        self.hotkeys: list[Hotkey] = []
        self.expressions: list[Expression] = []
        self._shown_model: str | None = None
        self._refresh_task: asyncio.Task[None] | None = None
        vts = settings.vtube_studio

        # --- connection ---
        self.enable_box = QCheckBox("Connect to VTube Studio")
        self.enable_box.setChecked(vts.enabled)
        self.badge = StatusBadge(avatar.state)
        self.reconnect_button = QPushButton("Reconnect")
        self.detail = QLabel(avatar.detail)
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.url_edit = QLineEdit(vts.url)
        self.url_edit.setAccessibleName("VTube Studio address")
        self.url_edit.setToolTip("VTube Studio's API address; the port is shown in its settings.")
        connection_box = QGroupBox("VTube Studio")
        top = QHBoxLayout()
        top.addWidget(self.enable_box)
        top.addWidget(self.badge)
        top.addStretch(1)
        top.addWidget(self.reconnect_button)
        connection_form = QFormLayout()
        connection_form.addRow("Address", self.url_edit)
        connection_layout = QVBoxLayout(connection_box)
        connection_layout.addLayout(top)
        connection_layout.addWidget(self.detail)
        connection_layout.addLayout(connection_form)

        # --- live avatar ---
        self.model_label = QLabel("—")
        self.mouth_bar = QProgressBar()
        self.mouth_bar.setRange(0, 100)
        self.mouth_bar.setTextVisible(False)
        self.mouth_bar.setFixedHeight(14)
        self.mouth_bar.setAccessibleName("Mouth opening")
        self.mood_label = QLabel("—")
        live_box = QGroupBox("Avatar")
        live_form = QFormLayout(live_box)
        live_form.addRow("Model", self.model_label)
        live_form.addRow("Mouth", self.mouth_bar)
        live_form.addRow("Last mood", self.mood_label)

        # --- hotkeys and expressions from VTube Studio ---
        self.hotkey_table = _table(["Hotkey", "Type", ""])
        self.expression_table = _table(["Expression", "Active", ""])
        self.refresh_button = QPushButton("Refresh")
        lists_box = QGroupBox("Current model")
        lists_layout = QVBoxLayout(lists_box)
        lists_layout.addWidget(self.hotkey_table, 3)
        lists_layout.addWidget(self.expression_table, 2)
        refresh_row = QHBoxLayout()
        refresh_row.addStretch(1)
        refresh_row.addWidget(self.refresh_button)
        lists_layout.addLayout(refresh_row)

        # --- mood → hotkey or expression ---
        self.mood_table = _table(["Mood", "Shows", ""])
        self.new_mood_edit = QLineEdit()
        self.new_mood_edit.setPlaceholderText("Add a mood, e.g. excited")
        self.add_mood_button = QPushButton("Add")
        moods_box = QGroupBox("Moods")
        moods_layout = QVBoxLayout(moods_box)
        hint = QLabel(
            "When a reply carries a mood, Voxelle triggers the hotkey or turns on the "
            "expression chosen here."
        )
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #9ca3af")
        moods_layout.addWidget(hint)
        moods_layout.addWidget(self.mood_table, 1)
        add_row = QHBoxLayout()
        add_row.addWidget(self.new_mood_edit, 1)
        add_row.addWidget(self.add_mood_button)
        moods_layout.addLayout(add_row)

        self.message = QLabel("")
        self.message.setWordWrap(True)

        left = QVBoxLayout()
        left.addWidget(connection_box)
        left.addWidget(live_box)
        left.addWidget(moods_box, 1)
        columns = QHBoxLayout()
        columns.addLayout(left, 1)
        columns.addWidget(lists_box, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(columns, 1)
        layout.addWidget(self.message)

        self.enable_box.toggled.connect(self._enable_toggled)
        self.reconnect_button.clicked.connect(self.reconnect)
        self.url_edit.editingFinished.connect(self._url_edited)
        self.refresh_button.clicked.connect(self.refresh)
        self.add_mood_button.clicked.connect(self._add_mood)
        self.new_mood_edit.returnPressed.connect(self._add_mood)
        bridge.on(IntegrationStatus, self._on_status)

        self._fill_moods()
        self._show_state(avatar.state, avatar.detail, refresh=False)
        # Fetch lists once the loop runs (the panel may be built before it starts).
        QTimer.singleShot(0, self, lambda: self._show_state(self.avatar.state, self.avatar.detail))
        self.timer = QTimer(self)
        self.timer.setInterval(50)  # the mouth bar at 20 Hz: smooth to the eye, cheap
        self.timer.timeout.connect(self._poll)
        self.timer.start()

    # --- connection --------------------------------------------------------------------

    def _enable_toggled(self, enabled: bool) -> None:
        self.settings.vtube_studio.enabled = enabled
        self._save()
        if enabled:
            self.tasks.spawn(self.avatar.start(), "Connecting to VTube Studio")
        else:
            self.tasks.spawn(self.avatar.stop(), "Disconnecting from VTube Studio")
        self.reconnect_button.setEnabled(enabled)

    def reconnect(self) -> asyncio.Task[None]:
        """Start over: the way to retry after the streamer denied access or fixed the port."""
        return self.tasks.spawn(self._reconnect(), "Reconnecting to VTube Studio")

    async def _reconnect(self) -> None:
        await self.avatar.stop()
        if self.settings.vtube_studio.enabled:
            await self.avatar.start()

    def _url_edited(self) -> None:
        url = self.url_edit.text().strip()
        if url == self.settings.vtube_studio.url:
            return
        if not url.startswith(("ws://", "wss://")):
            self.message.setText("The address must start with ws:// (for example ws://localhost:8001).")
            return
        self.settings.vtube_studio.url = url
        self._save()
        self.message.setText(f"VTube Studio address set to {url}.")
        if self.settings.vtube_studio.enabled:
            self.reconnect()

    def _on_status(self, event: object) -> None:
        assert isinstance(event, IntegrationStatus)
        if event.integration == self.avatar.name:
            self._show_state(event.state, event.detail)

    def _show_state(self, state: str, detail: str, refresh: bool = True) -> None:
        self.badge.set_state(state, detail)
        self.detail.setText(detail or _STATE_TEXT.get(state, ""))
        connected = state == "connected"
        self.reconnect_button.setEnabled(self.settings.vtube_studio.enabled)
        self.refresh_button.setEnabled(connected)
        for table in (self.hotkey_table, self.expression_table):
            table.setEnabled(connected)
        model = self.avatar.model_name if connected else ""
        self.model_label.setText(model or ("No model loaded" if connected else "—"))
        if connected and model != self._shown_model and refresh:
            self._shown_model = model
            self.refresh()
        elif not connected:
            self._shown_model = None

    # --- hotkeys and expressions -------------------------------------------------------

    def refresh(self) -> asyncio.Task[None]:
        if self._refresh_task is not None and not self._refresh_task.done():
            self._refresh_task.cancel()
        self._refresh_task = self.tasks.spawn(self._refresh(), "Listing the model's hotkeys")
        return self._refresh_task

    async def _refresh(self) -> None:
        try:
            hotkeys = await self.avatar.list_hotkeys()
            expressions = await self.avatar.list_expressions()
        except Exception as exc:
            self.message.setText(f"Could not list the model's hotkeys: {describe(exc)}")
            return
        self.hotkeys, self.expressions = list(hotkeys), list(expressions)
        self._fill_hotkeys()
        self._fill_expressions()
        self._fill_moods()

    def _fill_hotkeys(self) -> None:
        table = self.hotkey_table
        table.setRowCount(0)
        for hotkey in self.hotkeys:
            row = table.rowCount()
            table.insertRow(row)
            table.setItem(row, 0, _item(hotkey.name))
            table.setItem(row, 1, _item(hotkey.kind))
            button = QPushButton("Test")
            button.setAccessibleName(f"Test hotkey {hotkey.name}")
            button.clicked.connect(lambda _=False, h=hotkey: self.test_hotkey(h))
            table.setCellWidget(row, 2, button)

    def _fill_expressions(self) -> None:
        table = self.expression_table
        table.setRowCount(0)
        for expression in self.expressions:
            row = table.rowCount()
            table.insertRow(row)
            table.setItem(row, 0, _item(expression.name))
            table.setItem(row, 1, _item("on" if expression.active else "off"))
            button = QPushButton("Turn off" if expression.active else "Test")
            button.setAccessibleName(f"Test expression {expression.name}")
            button.clicked.connect(lambda _=False, e=expression: self.test_expression(e))
            table.setCellWidget(row, 2, button)

    def test_hotkey(self, hotkey: Hotkey) -> asyncio.Task[None]:
        return self.tasks.spawn(self._test_hotkey(hotkey), f"Testing hotkey {hotkey.name}")

    async def _test_hotkey(self, hotkey: Hotkey) -> None:
        try:
            await self.avatar.trigger_hotkey(hotkey.id)
        except Exception as exc:
            self.message.setText(f"Hotkey {hotkey.name} failed: {describe(exc)}")
            return
        self.message.setText(f"Triggered hotkey {hotkey.name}.")
        await self._refresh()  # a hotkey may have toggled an expression

    def test_expression(self, expression: Expression) -> asyncio.Task[None]:
        return self.tasks.spawn(
            self._test_expression(expression), f"Testing expression {expression.name}"
        )

    async def _test_expression(self, expression: Expression) -> None:
        try:
            await self.avatar.set_expression(expression.file, not expression.active)
        except Exception as exc:
            self.message.setText(f"Expression {expression.name} failed: {describe(exc)}")
            return
        verb = "Turned off" if expression.active else "Turned on"
        self.message.setText(f"{verb} expression {expression.name}.")
        await self._refresh()

    # --- moods -------------------------------------------------------------------------

    def _fill_moods(self) -> None:
        mapping = dict(self.settings.vtube_studio.mood_hotkeys)
        # Keep rows the streamer added but has not mapped yet; then saved ones; then suggestions.
        moods = list(dict.fromkeys(
            [mood for mood, _ in self._mood_rows()] + list(mapping) + list(SUGGESTED_MOODS)
        ))
        table = self.mood_table
        table.setRowCount(0)
        for mood in moods:
            self._add_mood_row(mood, mapping.get(mood, ""))

    def _add_mood_row(self, mood: str, target: str) -> None:
        table = self.mood_table
        row = table.rowCount()
        table.insertRow(row)
        table.setItem(row, 0, _item(mood))
        combo = QComboBox()
        combo.setAccessibleName(f"What mood {mood} shows")
        combo.addItem(NOTHING, "")
        for hotkey in self.hotkeys:
            combo.addItem(f"Hotkey: {hotkey.name}", hotkey.id)
        for expression in self.expressions:
            combo.addItem(f"Expression: {expression.name}", expression.file)
        index = combo.findData(target) if target else 0
        if index < 0:
            combo.addItem(f"{target} (not in this model)", target)
            index = combo.count() - 1
        combo.setCurrentIndex(index)
        combo.currentIndexChanged.connect(lambda _=0: self._save_moods())
        table.setCellWidget(row, 1, combo)
        remove = QPushButton("Remove")
        remove.setAccessibleName(f"Remove mood {mood}")
        remove.clicked.connect(lambda _=False, m=mood: self._remove_mood(m))
        table.setCellWidget(row, 2, remove)

    def mood_combo(self, mood: str) -> QComboBox | None:
        for row in range(self.mood_table.rowCount()):
            item = self.mood_table.item(row, 0)
            if item is not None and item.text() == mood:
                widget = self.mood_table.cellWidget(row, 1)
                return widget if isinstance(widget, QComboBox) else None
        return None

    def _mood_rows(self) -> list[tuple[str, str]]:
        rows = []
        for row in range(self.mood_table.rowCount()):
            item = self.mood_table.item(row, 0)
            combo = self.mood_table.cellWidget(row, 1)
            if item is not None and isinstance(combo, QComboBox):
                rows.append((item.text(), str(combo.currentData() or "")))
        return rows

    def _save_moods(self) -> None:
        mapping = {mood: target for mood, target in self._mood_rows() if target}
        if mapping == self.settings.vtube_studio.mood_hotkeys:
            return
        self.settings.vtube_studio.mood_hotkeys = mapping
        self._save()

    def _add_mood(self) -> None:
        mood = self.new_mood_edit.text().strip().lower()
        if not mood:
            return
        if self.mood_combo(mood) is None:
            self._add_mood_row(mood, "")
        self.new_mood_edit.clear()
        self.message.setText(f"Choose what the mood '{mood}' shows.")

    def _remove_mood(self, mood: str) -> None:
        for row in range(self.mood_table.rowCount()):
            item = self.mood_table.item(row, 0)
            if item is not None and item.text() == mood:
                self.mood_table.removeRow(row)
                break
        self._save_moods()

    # --- live values -------------------------------------------------------------------

    def _poll(self) -> None:
        if not self.isVisible():
            return
        self.mouth_bar.setValue(round(max(0.0, min(1.0, self.avatar.mouth_value)) * 100))
        mood = self.avatar.last_mood
        if not mood:
            return
        target = self.settings.vtube_studio.mood_hotkeys.get(mood, "")
        shown = self._describe_target(target) if target else "nothing mapped"
        text = f"{mood} → {shown}"
        if self.mood_label.text() != text:
            self.mood_label.setText(text)

    def _describe_target(self, target: str) -> str:
        for hotkey in self.hotkeys:
            if hotkey.id == target:
                return f"hotkey {hotkey.name}"
        for expression in self.expressions:
            if expression.file == target:
                return f"expression {expression.name}"
        return target.removesuffix(EXPRESSION_SUFFIX)

    def _save(self) -> None:
        try:
            self.save_settings()
        except Exception as exc:
            self.message.setText(f"Settings could not be saved: {describe(exc)}")


_STATE_TEXT = {
    "stopped": "Off. Tick the box to connect to VTube Studio.",
    "disabled": "Off. Tick the box to connect to VTube Studio.",
    "connecting": "Connecting to VTube Studio…",
}


def _table(headers: Sequence[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(list(headers))
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    header = table.horizontalHeader()
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    for column in range(1, len(headers)):
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
    return table


def _item(text: str) -> QTableWidgetItem:
    return QTableWidgetItem(text)
