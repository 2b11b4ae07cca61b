"""The avatar panel, offscreen, driving the real VTube Studio integration against the fake VTS."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton
from pytestqt.qtbot import QtBot

from tests.integrations.fake_vts import FakeHotkey, FakeModel, FakeVTS
from tests.ui.conftest import QLoop
from voxelle_app.core.bus import EventBus
from voxelle_app.core.events import MoodChanged, MouthLevel
from voxelle_app.core.logs import Redactor
from voxelle_app.core.secrets import SecretStore
from voxelle_app.core.settings import Settings
from voxelle_app.integrations.base import Backoff
from voxelle_app.integrations.vtube_studio import VTubeStudio
from voxelle_app.ui.bridge import Bridge
from voxelle_app.ui.panels.avatar import AvatarPanel
from voxelle_app.ui.tasks import TaskKeeper


@dataclass
class Rig:
    fake: FakeVTS
    settings: Settings
    bus: EventBus
    vts: VTubeStudio
    panel: AvatarPanel
    errors: list[str] = field(default_factory=list)
    saves: list[dict[str, object]] = field(default_factory=list)


def make_rig(qloop: QLoop, tmp_path: Path, fake: FakeVTS) -> tuple[Rig, Bridge, TaskKeeper]:
    qloop.run(fake.start())
    settings = Settings()
    settings.vtube_studio.url = fake.url
    bus = EventBus()
    bus.attach(qloop.loop)
    secrets = SecretStore(tmp_path / "secrets.json", Redactor(), use_keyring=False)
    vts = VTubeStudio(settings.vtube_studio, bus, secrets, backoff=Backoff(0.05, 0.3))
    bridge = Bridge(bus)
    errors: list[str] = []
    tasks = TaskKeeper(errors.append)
    saves: list[dict[str, object]] = []
    panel = AvatarPanel(settings, vts, bridge, tasks,
                        lambda: saves.append(settings.vtube_studio.model_dump()))
    panel.resize(1000, 640)
    panel.show()
    return Rig(fake, settings, bus, vts, panel, errors, saves), bridge, tasks


@pytest.fixture
def rig(qloop: QLoop, qtbot: QtBot, tmp_path: Path) -> Iterator[Rig]:
    made, bridge, tasks = make_rig(qloop, tmp_path, FakeVTS())
    yield made
    qloop.run(tasks.cancel_all())
    qloop.run(made.vts.stop())
    qloop.run(made.fake.stop())
    bridge.close()
    made.panel.close()
    made.panel.deleteLater()


def cell_button(table: object, row: int) -> QPushButton:
    widget = table.cellWidget(row, 2)  # type: ignore[attr-defined]
    assert isinstance(widget, QPushButton)
    return widget


def test_connect_list_test_map_and_disconnect(rig: Rig, qloop: QLoop, qtbot: QtBot) -> None:
    panel, fake = rig.panel, rig.fake
    assert panel.badge.state == "stopped" and not panel.refresh_button.isEnabled()

    qtbot.mouseClick(panel.enable_box, Qt.MouseButton.LeftButton)
    assert rig.settings.vtube_studio.enabled and rig.saves[-1]["enabled"] is True
    qloop.wait_until(lambda: panel.badge.state == "connected")
    assert panel.model_label.text() == "Hiyori"
    qloop.wait_until(lambda: panel.hotkey_table.rowCount() == 3)
    assert [panel.hotkey_table.item(r, 0).text() for r in range(3)] == ["Smile", "Sad face", "Wave"]
    assert panel.expression_table.rowCount() == 3

    # Test buttons reach VTube Studio.
    qtbot.mouseClick(cell_button(panel.hotkey_table, 2), Qt.MouseButton.LeftButton)
    qloop.wait_until(lambda: fake.triggered == ["hk-wave"])
    qloop.wait_until(lambda: "Triggered hotkey Wave" in panel.message.text())
    sad_row = [panel.expression_table.item(r, 0).text() for r in range(3)].index("sad")
    qtbot.mouseClick(cell_button(panel.expression_table, sad_row), Qt.MouseButton.LeftButton)
    assert fake.model is not None
    qloop.wait_until(lambda: fake.model is not None and fake.model.expressions["sad.exp3.json"])
    qloop.wait_until(lambda: panel.expression_table.item(sad_row, 1).text() == "on")

    # Map a mood to a hotkey; it is saved and used.
    combo = panel.mood_combo("happy")
    assert combo is not None
    combo.setCurrentIndex(combo.findData("hk-smile"))
    assert rig.settings.vtube_studio.mood_hotkeys == {"happy": "hk-smile"}
    assert rig.saves[-1]["mood_hotkeys"] == {"happy": "hk-smile"}
    rig.bus.publish(MoodChanged(mood="happy"))
    qloop.wait_until(lambda: fake.triggered[-1:] == ["hk-smile"])
    qloop.wait_until(lambda: panel.mood_label.text() == "happy → hotkey Smile")

    # A mood the streamer adds, mapped to an expression.
    panel.new_mood_edit.setText("Gloomy")
    qtbot.mouseClick(panel.add_mood_button, Qt.MouseButton.LeftButton)
    gloomy = panel.mood_combo("gloomy")
    assert gloomy is not None
    gloomy.setCurrentIndex(gloomy.findData("angry.exp3.json"))
    assert rig.settings.vtube_studio.mood_hotkeys["gloomy"] == "angry.exp3.json"

    # The live mouth bar follows what is sent to VTube Studio.
    for _ in range(10):
        rig.bus.publish(MouthLevel(value=0.2))
        qloop.sleep(0.02)
    qloop.wait_until(lambda: panel.mouth_bar.value() > 20)

    # A new model in VTube Studio: name and lists follow.
    qloop.run(fake.load_model(FakeModel(name="Mao", hotkeys=[
        FakeHotkey("hk-blush", "Blush", "ToggleExpression", "blush.exp3.json")])))
    qloop.wait_until(lambda: panel.model_label.text() == "Mao")
    qloop.wait_until(lambda: panel.hotkey_table.rowCount() == 1)
    combo = panel.mood_combo("happy")
    assert combo is not None and "not in this model" in combo.currentText()

    if os.environ.get("VOXELLE_SCREENSHOT_DIR"):
        out = Path(os.environ["VOXELLE_SCREENSHOT_DIR"]) / "avatar_panel.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        panel.grab().save(str(out))

    qtbot.mouseClick(panel.enable_box, Qt.MouseButton.LeftButton)
    qloop.wait_until(lambda: panel.badge.state == "stopped")
    assert rig.settings.vtube_studio.enabled is False and rig.saves[-1]["enabled"] is False
    assert panel.model_label.text() == "—" and not panel.refresh_button.isEnabled()
    assert rig.errors == []


def test_denied_access_is_explained_and_reconnect_retries(
    rig: Rig, qloop: QLoop, qtbot: QtBot
) -> None:
    panel, fake = rig.panel, rig.fake
    fake.allow_token = False
    qtbot.mouseClick(panel.enable_box, Qt.MouseButton.LeftButton)
    qloop.wait_until(lambda: panel.badge.state == "failed")
    assert "denied" in panel.detail.text() and "Reconnect" in panel.detail.text()
    assert panel.reconnect_button.isEnabled()

    fake.allow_token = True
    qtbot.mouseClick(panel.reconnect_button, Qt.MouseButton.LeftButton)
    qloop.wait_until(lambda: panel.badge.state == "connected")
    assert fake.token_requests == 2


def test_vts_not_running_shows_why_and_the_window_stays_usable(
    rig: Rig, qloop: QLoop, qtbot: QtBot
) -> None:
    panel = rig.panel
    qloop.run(rig.fake.stop())
    qtbot.mouseClick(panel.enable_box, Qt.MouseButton.LeftButton)
    qloop.wait_until(lambda: panel.badge.state == "reconnecting")
    assert "not reachable" in panel.detail.text()
    # Changing the address reconnects to the new one.
    qloop.run(rig.fake.start())
    panel.url_edit.setText("not-a-url")
    panel.url_edit.editingFinished.emit()
    assert "must start with ws://" in panel.message.text()
    assert rig.settings.vtube_studio.url == rig.fake.url
    panel.url_edit.setText(rig.fake.url + "/")
    panel.url_edit.editingFinished.emit()
    qloop.wait_until(lambda: panel.badge.state == "connected")
    assert rig.settings.vtube_studio.url == rig.fake.url + "/"
    assert rig.saves[-1]["url"] == rig.fake.url + "/"


def test_a_panel_opened_while_connected_fetches_the_lists(
    rig: Rig, qloop: QLoop, qtbot: QtBot
) -> None:
    # The composition root starts an enabled integration before the window exists.
    rig.settings.vtube_studio.enabled = True
    qloop.run(rig.vts.start())
    qloop.wait_until(lambda: rig.vts.state == "connected")
    bridge = Bridge(rig.bus)
    tasks = TaskKeeper(rig.errors.append)
    late = AvatarPanel(rig.settings, rig.vts, bridge, tasks, lambda: None)
    try:
        late.show()
        assert late.enable_box.isChecked() and late.badge.state == "connected"
        qloop.wait_until(lambda: late.hotkey_table.rowCount() == 3)
        assert late.model_label.text() == "Hiyori"
    finally:
        qloop.run(tasks.cancel_all())
        bridge.close()
        late.close()
        late.deleteLater()
