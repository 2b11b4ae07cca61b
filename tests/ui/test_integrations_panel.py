"""The integrations panel, offscreen, on a real AppContext and settings file.

The integrations are small fakes of our own ``Switchable`` interface: these tests are about
the panel's orchestration (switching, persisting, showing state, validating settings); the
real Twitch and Discord integrations have their own tests against fake servers.
"""

from __future__ import annotations

import asyncio
import dataclasses
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QLineEdit, QWidget
from pytestqt.qtbot import QtBot

from tests.ui.conftest import QLoop
from voxelle_app.core.bus import EventBus
from voxelle_app.core.context import AppContext
from voxelle_app.core.control import Switchable
from voxelle_app.core.events import ConnectionState, IntegrationStatus
from voxelle_app.ui.bridge import Bridge
from voxelle_app.ui.panels import integrations as integrations_module
from voxelle_app.ui.panels.integrations import FieldSpec, IntegrationsPanel
from voxelle_app.ui.tasks import TaskKeeper


class FakeIntegration:
    """Records start/stop and reports its state on the bus, as real integrations do."""

    def __init__(self, name: str, title: str, bus: EventBus) -> None:
        self.name = name
        self.title = title
        self.bus = bus
        self.calls: list[str] = []
        self._state: ConnectionState = "stopped"
        self._detail = ""

    @property
    def state(self) -> ConnectionState:
        return self._state

    @property
    def detail(self) -> str:
        return self._detail

    def set_state(self, state: ConnectionState, detail: str = "") -> None:
        self._state, self._detail = state, detail
        self.bus.publish(IntegrationStatus(integration=self.name, state=state, detail=detail))

    async def start(self) -> None:
        self.calls.append("start")
        self.set_state("connecting")
        await asyncio.sleep(0.01)
        self.set_state("connected", f"{self.title}: connected as vox_bot")

    async def stop(self) -> None:
        self.calls.append("stop")
        await asyncio.sleep(0.01)
        self.set_state("stopped")


Build = Callable[..., IntegrationsPanel]






@pytest.fixture
def build(ctx: AppContext, qloop: QLoop, errors: list[str]) -> Iterator[Build]:
    made: list[tuple[IntegrationsPanel, Bridge, TaskKeeper]] = []

    def make(integrations: Sequence[Switchable],
             accounts: Mapping[str, QWidget] | None = None) -> IntegrationsPanel:
        bridge = Bridge(ctx.bus)
        tasks = TaskKeeper(errors.append)
        panel = IntegrationsPanel(ctx.settings, integrations, accounts or {}, bridge, tasks,
                                  ctx.save_settings)
        panel.resize(1100, 700)
        panel.show()
        made.append((panel, bridge, tasks))
        return panel

    yield make
    for panel, bridge, tasks in made:
        qloop.run(tasks.cancel_all())
        bridge.close()
        panel.close()
        panel.deleteLater()


@pytest.fixture
def twitch(ctx: AppContext) -> FakeIntegration:
    return FakeIntegration("twitch", "Twitch", ctx.bus)


@pytest.fixture
def discord(ctx: AppContext) -> FakeIntegration:
    return FakeIntegration("discord", "Discord", ctx.bus)


def saved(ctx: AppContext, section: str) -> dict[str, object]:
    return tomllib.loads(ctx.paths.settings_file.read_text(encoding="utf-8"))[section]


def edit(panel: IntegrationsPanel, name: str, key: str) -> QLineEdit:
    widget = panel.groups[name].widgets[key]
    assert isinstance(widget, QLineEdit)
    return widget


def type_into(qtbot: QtBot, field: QLineEdit, text: str) -> None:
    """Replace the text as a person would, and finish with Return."""
    field.setFocus()
    field.selectAll()
    qtbot.keyClicks(field, text)
    qtbot.keyClick(field, Qt.Key.Key_Return)


def test_toggle_starts_stops_and_persists_enabled(
    build: Build, ctx: AppContext, twitch: FakeIntegration, discord: FakeIntegration,
    qloop: QLoop, errors: list[str],
) -> None:
    panel = build([twitch, discord])
    group = panel.groups["twitch"]
    assert group.badge.state == "stopped" and not group.enabled_box.isChecked()
    assert not group.reconnect_button.isEnabled()

    group.enabled_box.click()
    qloop.wait_until(lambda: group.badge.state == "connected")
    assert twitch.calls == ["start"] and discord.calls == []
    assert "connected as vox_bot" in group.detail.text()
    assert ctx.settings.twitch.enabled and saved(ctx, "twitch")["enabled"] is True
    assert saved(ctx, "discord")["enabled"] is False
    assert group.reconnect_button.isEnabled()

    group.enabled_box.click()
    qloop.wait_until(lambda: group.badge.state == "stopped")
    assert twitch.calls == ["start", "stop"]
    assert saved(ctx, "twitch")["enabled"] is False

    # Quick clicks run in order and end where the box says.
    group.enabled_box.click()
    group.enabled_box.click()
    group.enabled_box.click()
    qloop.wait_until(lambda: len(twitch.calls) == 5 and group.badge.state == "connected")
    assert twitch.calls == ["start", "stop", "start", "stop", "start"]
    assert saved(ctx, "twitch")["enabled"] is True

    reconnect = panel.reconnect("twitch")
    assert reconnect is not None
    qloop.run(reconnect)
    assert twitch.calls[-2:] == ["stop", "start"] and group.badge.state == "connected"
    assert errors == []


def test_badges_follow_integration_status(build: Build, ctx: AppContext,
                                          twitch: FakeIntegration, discord: FakeIntegration,
                                          qloop: QLoop) -> None:
    vts = FakeIntegration("vtube_studio", "VTube Studio", ctx.bus)
    panel = build([vts, discord, twitch])
    assert set(panel.groups) == {"twitch", "discord"}  # no group here for VTube Studio
    t, d = panel.groups["twitch"], panel.groups["discord"]

    twitch.set_state("reconnecting", "the connection closed; retrying in 4 s")
    qloop.wait_until(lambda: t.badge.state == "reconnecting")
    assert t.detail.text() == "the connection closed; retrying in 4 s"
    assert d.badge.state == "stopped"

    discord.set_state("failed", "The bot token was refused. Paste a new one.")
    qloop.wait_until(lambda: d.badge.state == "failed")
    assert "token was refused" in d.detail.text() and "#ef4444" in d.detail.styleSheet()
    assert t.badge.state == "reconnecting"

    vts.set_state("connected")
    twitch.set_state("connected", "Reading #mychannel")
    qloop.wait_until(lambda: t.badge.state == "connected")
    assert "#ef4444" not in t.detail.styleSheet()


def test_discord_channel_ids_are_validated_before_saving(
    build: Build, ctx: AppContext, discord: FakeIntegration, twitch: FakeIntegration,
    qtbot: QtBot,
) -> None:
    panel = build([twitch, discord])
    group = panel.groups["discord"]
    section = ctx.settings.discord
    channels = edit(panel, "discord", "allowed_channels")

    type_into(qtbot, channels, "123456789012345678, general")
    error = group.errors["allowed_channels"]
    assert error.isVisible() and "'general' is not a channel ID" in error.text()
    assert "Copy Channel ID" in error.text()
    assert section.allowed_channels == [] and saved(ctx, "discord")["allowed_channels"] == []
    assert channels.text() == "123456789012345678, general"  # kept, to be fixed

    type_into(qtbot, channels, "123456789012345678, <#223456789012345678> 123456789012345678")
    assert not error.isVisible()
    assert ctx.settings.discord is section  # edited in place: the integration keeps its view
    assert section.allowed_channels == [123456789012345678, 223456789012345678]
    assert saved(ctx, "discord")["allowed_channels"] == [123456789012345678, 223456789012345678]
    assert channels.text() == "123456789012345678, 223456789012345678"

    voice = edit(panel, "discord", "voice_channel_id")
    type_into(qtbot, voice, "-5")
    assert group.errors["voice_channel_id"].isVisible() and section.voice_channel_id == 0
    type_into(qtbot, voice, "323456789012345678")
    assert saved(ctx, "discord")["voice_channel_id"] == 323456789012345678

    output = group.widgets["voice_output"]
    assert isinstance(output, QComboBox)
    output.setCurrentIndex(output.findData("both"))
    output.activated.emit(output.currentIndex())
    assert saved(ctx, "discord")["voice_output"] == "both"

    dms = group.widgets["answer_dms"]
    assert isinstance(dms, QCheckBox) and not dms.isChecked()
    dms.click()
    assert section.answer_dms and saved(ctx, "discord")["answer_dms"] is True


def test_twitch_fields_save_in_place_and_reconnect_when_needed(
    build: Build, ctx: AppContext, twitch: FakeIntegration, qtbot: QtBot, qloop: QLoop,
) -> None:
    account = QLabel("Signed in to Twitch as nobody")
    panel = build([twitch], {"twitch": account})
    group = panel.groups["twitch"]
    section = ctx.settings.twitch
    assert group.box.isAncestorOf(account)

    type_into(qtbot, edit(panel, "twitch", "channel"), "https://www.twitch.tv/MyChannel")
    assert section.channel == "mychannel" and saved(ctx, "twitch")["channel"] == "mychannel"
    assert edit(panel, "twitch", "channel").text() == "mychannel"
    assert twitch.calls == []  # not enabled: nothing to reconnect

    type_into(qtbot, edit(panel, "twitch", "client_id"), "not a client id!")
    assert group.errors["client_id"].isVisible() and section.client_id == ""

    reply = group.widgets["reply_in_chat"]
    assert isinstance(reply, QCheckBox)
    reply.click()
    assert saved(ctx, "twitch")["reply_in_chat"] is True

    group.enabled_box.click()
    qloop.wait_until(lambda: group.badge.state == "connected")
    type_into(qtbot, edit(panel, "twitch", "client_id"), "abc123def456")
    assert not group.errors["client_id"].isVisible()
    assert saved(ctx, "twitch")["client_id"] == "abc123def456"
    qloop.wait_until(lambda: twitch.calls == ["start", "stop", "start"]
                     and group.badge.state == "connected")
    assert ctx.settings.twitch is section


def test_missing_integrations_and_fields(build: Build, ctx: AppContext,
                                         twitch: FakeIntegration, qloop: QLoop,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    groups = list(integrations_module.GROUPS)
    twitch_spec = groups[0]
    groups[0] = dataclasses.replace(
        twitch_spec,
        fields=(*twitch_spec.fields, FieldSpec("not_a_setting_yet", "Later", "text")),
    )
    monkeypatch.setattr(integrations_module, "GROUPS", tuple(groups))
    ctx.settings.twitch.enabled = True

    panel = build([twitch])
    assert "not available in this build" in panel.unavailable["discord"].text()
    assert "discord" not in panel.groups
    assert "not_a_setting_yet" not in panel.groups["twitch"].widgets
    assert panel.groups["twitch"].enabled_box.isChecked()

    tasks = panel.start_enabled()
    assert len(tasks) == 1
    qloop.run(asyncio.gather(*tasks))
    assert twitch.calls == ["start"] and panel.groups["twitch"].badge.state == "connected"
