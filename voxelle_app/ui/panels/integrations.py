"""Integrations panel: Twitch and Discord side by side, each with its state, an on/off switch,
its sign-in widget and its settings.

Settings are edited in place on the section objects (``settings.twitch``, ...): the running
integrations hold a reference to them and read them live, so replacing a section would
silently cut them off. The panel knows integrations only as ``core.control.Switchable``
(``ui`` never imports ``integrations``), and fields are read with ``getattr`` so that a field
renamed or added elsewhere hides one row instead of breaking the window.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from voxelle_app.core.control import Switchable
from voxelle_app.core.errors import describe
from voxelle_app.core.events import IntegrationStatus
from voxelle_app.core.settings import Settings
from voxelle_app.ui.bridge import Bridge
from voxelle_app.ui.tasks import TaskKeeper
from voxelle_app.ui.widgets.status_badge import StatusBadge

_log = logging.getLogger("voxelle.ui")

ERROR_COLOR = "#ef4444"
OK_COLOR = "#3ecf8e"
MUTED = "color: #9ca3af"
HEADING = "color: #a78bfa; font-weight: 600; padding-top: 6px"
ERROR_BORDER = f"border: 1px solid {ERROR_COLOR}"
_MISSING = object()
#: a visible box for check boxes on the dark theme (the global style leaves them unstyled)

FieldKind = Literal["text", "check", "id_list", "id", "choice"]

# --- parsing what the streamer typed ----------------------------------------------------------

_ID = re.compile(r"<?#?([0-9]+)>?")
_MAX_SNOWFLAKE = 2**64 - 1
ID_HELP = ("Channel IDs are long numbers such as 123456789012345678: in Discord, turn on "
           "User Settings → Advanced → Developer Mode, then right-click the channel and choose "
           "Copy Channel ID.")


def parse_channel_ids(text: str) -> list[int]:
    """Comma- or space-separated Discord channel IDs (``<#id>`` mentions accepted)."""
    ids: list[int] = []
    bad: list[str] = []
    for part in (p for p in re.split(r"[,;\s]+", text.strip()) if p):
        m = _ID.fullmatch(part)
        value = int(m.group(1)) if m else 0
        if 0 < value <= _MAX_SNOWFLAKE:
            ids.append(value)
        else:
            bad.append(part)
    if bad:
        listed = ", ".join(repr(b) for b in bad)
        verb = "is not a channel ID" if len(bad) == 1 else "are not channel IDs"
        raise ValueError(f"{listed} {verb}. {ID_HELP}")
    return list(dict.fromkeys(ids))


def parse_channel_id(text: str) -> int:
    """One channel ID, or 0 for none."""
    ids = parse_channel_ids(text)
    if len(ids) > 1:
        raise ValueError("Give one voice channel ID, not several.")
    return ids[0] if ids else 0


def clean_login(text: str) -> str:
    """A Twitch login from what people paste: "@Name", "#name" or a channel URL."""
    login = re.sub(r"^(?:https?://)?(?:www\.)?twitch\.tv/", "", text.strip(), flags=re.IGNORECASE)
    login = login.strip("/").lstrip("@#")
    if login and not re.fullmatch(r"[A-Za-z0-9_]{1,25}", login):
        raise ValueError("A Twitch login has only letters, digits and underscores (up to 25), "
                         "like my_channel; it is the name in your channel's address.")
    return login.lower()


def clean_client_id(text: str) -> str:
    client_id = text.strip()
    if client_id and not re.fullmatch(r"[A-Za-z0-9]{1,64}", client_id):
        raise ValueError("A client ID has only letters and digits. Copy it from your "
                         "application at dev.twitch.tv/console (Applications → Manage).")
    return client_id


# --- what each group shows -------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    key: str
    label: str
    kind: FieldKind
    tip: str = ""
    placeholder: str = ""
    choices: tuple[tuple[str, str], ...] = ()  # (label, value) for "choice"
    clean: Callable[[str], Any] | None = None  # text → value; ValueError says what is wrong
    reconnect: bool = False  # the integration reads it when it connects


@dataclass(frozen=True)
class GroupSpec:
    name: str
    title: str
    blurb: str
    fields: tuple[FieldSpec, ...]
    account_first: bool = True


GROUPS: tuple[GroupSpec, ...] = (
    GroupSpec(
        name="twitch",
        title="Twitch",
        blurb="Reads chat, follows, subs, bits, raids and channel-point redemptions.",
        account_first=False,  # the sign-in needs the client ID first
        fields=(
            FieldSpec("client_id", "Client ID", "text", clean=clean_client_id, reconnect=True,
                      placeholder="From dev.twitch.tv/console",
                      tip="Register an application at dev.twitch.tv/console (client type: "
                          "Public) and copy its Client ID. No client secret is needed."),
            FieldSpec("channel", "Channel", "text", clean=clean_login, reconnect=True,
                      placeholder="your channel login",
                      tip="The channel whose chat the co-host reads."),
            FieldSpec("bot_login", "Bot account", "text", clean=clean_login, reconnect=True,
                      placeholder="empty = the account you sign in with",
                      tip="The account that reads and replies, if not your own."),
            FieldSpec("reply_in_chat", "Reply in chat too (off: the co-host only speaks)",
                      "check", tip="Replies are cut to 500 characters and sent within "
                                   "Twitch's rate limits."),
            FieldSpec("is_moderator", "The bot account is a moderator in the channel", "check",
                      tip="Moderators may send 100 chat messages per 30 s instead of 20."),
        ),
    ),
    GroupSpec(
        name="discord",
        title="Discord",
        blurb="Reads and answers in the channels you allow, and can speak in a voice channel.",
        fields=(
            FieldSpec("allowed_channels", "Text channels", "id_list",
                      placeholder="channel IDs, separated by commas",
                      tip="The channels where the co-host reads and answers. " + ID_HELP),
            FieldSpec("answer_mentions", "Answer when mentioned in other channels", "check"),
            FieldSpec("answer_dms", "Answer direct messages", "check"),
            FieldSpec("moderator_role", "Moderator role", "text",
                      placeholder="empty = server moderators only",
                      tip="The role allowed to use /ask, /stop, /mute, /unmute and /persona."),
            FieldSpec("voice_channel_id", "Voice channel", "id", reconnect=True,
                      placeholder="voice channel ID (empty = none)",
                      tip="The voice channel the co-host joins to speak. It cannot hear "
                          "people there: Discord voice receive is not supported."),
            FieldSpec("voice_output", "Speak on", "choice", reconnect=True,
                      choices=(("This PC only", "local"), ("Discord voice only", "discord"),
                               ("This PC and Discord voice", "both"))),
        ),
    ),
)

STATE_TEXT = {
    "stopped": "Off. Tick Enabled to connect.",
    "disabled": "Off. Tick Enabled to connect.",
    "connecting": "Connecting…",
    "authenticating": "Signing in…",
    "connected": "Connected.",
}


def _validation_text(exc: Exception) -> str:
    """The first reason pydantic gives, without its type names and links."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            first = errors()[0]
            return str(first.get("msg", exc))
        except Exception:
            pass
    return describe(exc)


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    label.setStyleSheet(HEADING)
    return label


def _line() -> QFrame:
    line = QFrame()
    line.setFrameShape(QFrame.Shape.HLine)
    line.setStyleSheet("color: #2a2e37; background: #2a2e37; max-height: 1px; border: none")
    return line


@dataclass
class IntegrationGroup:
    """The widgets of one integration's group, for the panel and for tests."""

    spec: GroupSpec
    integration: Switchable
    box: QGroupBox
    enabled_box: QCheckBox
    badge: StatusBadge
    detail: QLabel
    reconnect_button: QPushButton
    message: QLabel
    widgets: dict[str, QWidget] = field(default_factory=dict)
    errors: dict[str, QLabel] = field(default_factory=dict)
    op: asyncio.Task[None] | None = None  # the last start/stop, so switches run in order


class IntegrationsPanel(QWidget):
    def __init__(
        self,
        settings: Settings,
        integrations: Sequence[Switchable],
        account_widgets: Mapping[str, QWidget],
        bridge: Bridge,
        tasks: TaskKeeper,
        save_settings: Callable[[], None],
    ) -> None:
        super().__init__()
        self.settings = settings
        self.tasks = tasks
        self.save_settings = save_settings
        self.groups: dict[str, IntegrationGroup] = {}
        self.unavailable: dict[str, QLabel] = {}
        by_name = {i.name: i for i in integrations}

        row = QHBoxLayout()
        row.setSpacing(12)
        for spec in GROUPS:
            integration = by_name.get(spec.name)
            if integration is None:
                box, label = self._unavailable_box(spec)
                self.unavailable[spec.name] = label
            else:
                group = self._build_group(spec, integration, account_widgets.get(spec.name))
                self.groups[spec.name] = group
                box = group.box
            row.addWidget(box, 1, Qt.AlignmentFlag.AlignTop)

        inner = QWidget()
        inner_layout = QVBoxLayout(inner)
        inner_layout.setContentsMargins(4, 4, 4, 4)
        inner_layout.addLayout(row)
        inner_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(inner)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)

        bridge.on(IntegrationStatus, self._on_status)

    # --- building ----------------------------------------------------------------------

    @staticmethod
    def _unavailable_box(spec: GroupSpec) -> tuple[QGroupBox, QLabel]:
        box = QGroupBox(spec.title)
        label = QLabel(f"{spec.title} is not available in this build.")
        label.setWordWrap(True)
        label.setStyleSheet(MUTED)
        QVBoxLayout(box).addWidget(label)
        return box, label

    def _build_group(self, spec: GroupSpec, integration: Switchable,
                     account: QWidget | None) -> IntegrationGroup:
        section = getattr(self.settings, spec.name, None)
        box = QGroupBox(getattr(integration, "title", "") or spec.title)
        box.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        enabled_box = QCheckBox("Enabled")
        enabled_box.setAccessibleName(f"{spec.title} enabled")
        enabled_box.setChecked(bool(getattr(section, "enabled", False)))
        badge = StatusBadge(integration.state)
        reconnect = QPushButton("Reconnect")
        reconnect.setToolTip(f"Disconnect from {spec.title} and connect again")
        detail = QLabel("")
        detail.setWordWrap(True)
        detail.setTextFormat(Qt.TextFormat.PlainText)
        detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        message = QLabel("")
        message.setWordWrap(True)
        message.setTextFormat(Qt.TextFormat.PlainText)
        group = IntegrationGroup(spec, integration, box, enabled_box, badge, detail, reconnect,
                                 message)

        top = QHBoxLayout()
        top.addWidget(enabled_box)
        top.addSpacing(8)
        top.addWidget(badge)
        top.addStretch(1)
        top.addWidget(reconnect)
        blurb = QLabel(spec.blurb)
        blurb.setWordWrap(True)
        blurb.setStyleSheet(MUTED)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        for field_spec in spec.fields:
            if section is None or getattr(section, field_spec.key, _MISSING) is _MISSING:
                continue  # a field this build's settings do not have
            widget = self._field_widget(group, field_spec)
            error = QLabel("")
            error.setWordWrap(True)
            error.setTextFormat(Qt.TextFormat.PlainText)
            error.setStyleSheet(f"color: {ERROR_COLOR}")
            error.hide()
            group.widgets[field_spec.key] = widget
            group.errors[field_spec.key] = error
            cell = QWidget()
            cell_layout = QVBoxLayout(cell)
            cell_layout.setContentsMargins(0, 0, 0, 0)
            cell_layout.setSpacing(2)
            cell_layout.addWidget(widget)
            cell_layout.addWidget(error)
            form.addRow("" if field_spec.kind == "check" else field_spec.label, cell)
        self._show_values(group)

        layout = QVBoxLayout(box)
        layout.setSpacing(6)
        layout.addLayout(top)
        layout.addWidget(detail)
        layout.addWidget(blurb)

        def add_account() -> None:
            if account is not None:
                layout.addWidget(_line())
                layout.addWidget(_heading("Account"))
                layout.addWidget(account)

        if spec.account_first:
            add_account()
        if group.widgets:
            layout.addWidget(_line())
            layout.addWidget(_heading("Settings"))
            layout.addLayout(form)
        if not spec.account_first:
            add_account()
        layout.addWidget(message)

        enabled_box.toggled.connect(lambda on, g=group: self._enabled_toggled(g, on))
        reconnect.clicked.connect(lambda _=False, g=group: self.reconnect(g.spec.name))
        self._show_state(group, integration.state, integration.detail)
        return group

    def _field_widget(self, group: IntegrationGroup, spec: FieldSpec) -> QWidget:
        widget: QWidget
        if spec.kind == "check":
            check = QCheckBox(spec.label)
            check.toggled.connect(lambda _=False: self._commit(group, spec))
            widget = check
        elif spec.kind == "choice":
            combo = QComboBox()
            for label, value in spec.choices:
                combo.addItem(label, value)
            combo.activated.connect(lambda _=0: self._commit(group, spec))
            widget = combo
        else:
            edit = QLineEdit()
            edit.setPlaceholderText(spec.placeholder)
            edit.editingFinished.connect(lambda: self._commit(group, spec))
            widget = edit
        widget.setAccessibleName(f"{group.spec.title} {spec.label}")
        if spec.tip:
            widget.setToolTip(spec.tip)
        return widget

    # --- showing values ------------------------------------------------------------------

    def _show_values(self, group: IntegrationGroup) -> None:
        """Fill the fields from the settings (skipping one being edited or holding an error)."""
        section = getattr(self.settings, group.spec.name, None)
        for spec in group.spec.fields:
            widget = group.widgets.get(spec.key)
            if widget is None or widget.hasFocus() or group.errors[spec.key].isVisible():
                continue
            self._show_value(spec, widget, getattr(section, spec.key, None))

    @staticmethod
    def _show_value(spec: FieldSpec, widget: QWidget, value: object) -> None:
        widget.blockSignals(True)
        try:
            if isinstance(widget, QCheckBox):
                widget.setChecked(bool(value))
            elif isinstance(widget, QComboBox):
                index = widget.findData(value)
                if index < 0 and value is not None:
                    widget.addItem(str(value), value)
                    index = widget.count() - 1
                widget.setCurrentIndex(max(index, 0))
            elif isinstance(widget, QLineEdit):
                if spec.kind == "id_list":
                    items = value if isinstance(value, list | tuple) else []
                    text = ", ".join(str(v) for v in items)
                elif spec.kind == "id":
                    text = str(value) if value else ""
                else:
                    text = "" if value is None else str(value)
                if widget.text() != text:
                    widget.setText(text)
        finally:
            widget.blockSignals(False)

    def _show_state(self, group: IntegrationGroup, state: str, detail: str) -> None:
        group.badge.set_state(state, detail)
        group.detail.setText(detail or STATE_TEXT.get(state, ""))
        group.detail.setStyleSheet(f"color: {ERROR_COLOR}" if state == "failed" else MUTED)
        group.reconnect_button.setEnabled(group.enabled_box.isChecked())

    # --- editing settings ------------------------------------------------------------------

    @staticmethod
    def _read(spec: FieldSpec, widget: QWidget) -> object:
        """The widget's value as the setting takes it; ValueError says what is wrong."""
        if isinstance(widget, QCheckBox):
            return widget.isChecked()
        if isinstance(widget, QComboBox):
            return widget.currentData()
        assert isinstance(widget, QLineEdit)
        text = widget.text()
        if spec.kind == "id_list":
            return parse_channel_ids(text)
        if spec.kind == "id":
            return parse_channel_id(text)
        if spec.clean is not None:
            return spec.clean(text)
        return text.strip()

    def _commit(self, group: IntegrationGroup, spec: FieldSpec) -> bool:
        """Validate one field and write it into the live settings section, then save."""
        widget = group.widgets[spec.key]
        section = getattr(self.settings, group.spec.name, None)
        try:
            value = self._read(spec, widget)
        except ValueError as exc:
            self._field_error(group, spec, str(exc))
            return False
        if getattr(section, spec.key, _MISSING) == value:
            self._field_error(group, spec, "")
            self._show_value(spec, widget, value)
            return True
        try:
            setattr(section, spec.key, value)
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            self._field_error(group, spec, f"{spec.label}: {_validation_text(exc)}")
            return False
        self._field_error(group, spec, "")
        self._show_value(spec, widget, getattr(section, spec.key, value))
        if not self._save(group):
            return False
        if spec.reconnect and group.enabled_box.isChecked():
            self._say(group, f"Saved. Reconnecting to {group.spec.title} to use it…")
            self.reconnect(group.spec.name)
        else:
            self._say(group, "Saved.")
        return True

    def _field_error(self, group: IntegrationGroup, spec: FieldSpec, text: str) -> None:
        label = group.errors[spec.key]
        label.setText(text)
        label.setVisible(bool(text))
        group.widgets[spec.key].setStyleSheet(ERROR_BORDER if text else "")
        if text:
            self._say(group, "")

    def _say(self, group: IntegrationGroup, text: str, error: bool = False) -> None:
        group.message.setText(text)
        group.message.setStyleSheet(f"color: {ERROR_COLOR}" if error else MUTED)

    def _save(self, group: IntegrationGroup) -> bool:
        try:
            self.save_settings()
        except Exception as exc:
            self._say(group, f"Settings could not be saved: {describe(exc)}", error=True)
            return False
        return True

    # --- switching ---------------------------------------------------------------------------

    def _enabled_toggled(self, group: IntegrationGroup, enabled: bool) -> None:
        section = getattr(self.settings, group.spec.name, None)
        if section is not None and getattr(section, "enabled", _MISSING) is not _MISSING:
            section.enabled = enabled
            self._save(group)
        group.reconnect_button.setEnabled(enabled)
        self._queue(group, enabled, restart=False)

    def reconnect(self, name: str) -> asyncio.Task[None] | None:
        """Disconnect and connect again (after a settings change, or to retry)."""
        group = self.groups.get(name)
        if group is None:
            return None
        return self._queue(group, group.enabled_box.isChecked(), restart=True)

    def start_enabled(self) -> list[asyncio.Task[None]]:
        """Connect every integration the streamer left enabled (call once the loop runs)."""
        return [self._queue(g, True, restart=False) for g in self.groups.values()
                if g.enabled_box.isChecked()]

    def _queue(self, group: IntegrationGroup, enabled: bool, restart: bool) -> asyncio.Task[None]:
        """Start or stop after the previous switch of this integration finished, so quick
        on-off-on clicks end in the state the box shows."""
        verb = ("Reconnecting to" if restart else "Connecting to" if enabled
                else "Disconnecting from")
        group.op = self.tasks.spawn(self._switch(group, enabled, restart, group.op),
                                    f"{verb} {group.spec.title}")
        return group.op

    async def _switch(self, group: IntegrationGroup, enabled: bool, restart: bool,
                      previous: asyncio.Task[None] | None) -> None:
        if previous is not None and not previous.done():
            await asyncio.wait([previous])
        integration = group.integration
        try:
            if restart or not enabled:
                await integration.stop()
            if enabled:
                await integration.start()
        except Exception as exc:
            _log.warning("switching %s: %s", group.spec.name, describe(exc))
            self._show_state(group, "failed", describe(exc))

    # --- events ------------------------------------------------------------------------------

    def _on_status(self, event: object) -> None:
        assert isinstance(event, IntegrationStatus)
        group = self.groups.get(event.integration)
        if group is not None:
            self._show_state(group, event.state, event.detail)
            self._show_values(group)  # a sign-in may have filled a field
