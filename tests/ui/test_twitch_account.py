"""The Twitch sign-in panel, offscreen, driving the real Twitch integration against the fake
Twitch (device code flow end to end; the browser is the only thing replaced)."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from tests.integrations.fake_twitch import FakeTwitch
from tests.ui.conftest import QLoop
from voxelle_app.core.bus import EventBus
from voxelle_app.core.logs import Redactor
from voxelle_app.core.secrets import SecretStore
from voxelle_app.core.settings import TwitchSettings
from voxelle_app.integrations.base import Backoff
from voxelle_app.integrations.twitch_chat import ACCESS_KEY, REFRESH_KEY, TwitchChat
from voxelle_app.ui.panels import twitch_account
from voxelle_app.ui.panels.twitch_account import TwitchAccountPanel
from voxelle_app.ui.tasks import TaskKeeper


@dataclass
class Rig:
    fake: FakeTwitch
    twitch: TwitchChat
    store: SecretStore
    panel: TwitchAccountPanel
    opened: list[QUrl] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def rig(qloop: QLoop, qtbot: QtBot, tmp_path: Path) -> Iterator[Rig]:
    fake = FakeTwitch()
    qloop.run(fake.start())
    fake.add_user("streamer", "Streamer")
    bus = EventBus()
    bus.attach(qloop.loop)
    store = SecretStore(tmp_path / "secrets.json", Redactor(), use_keyring=False)
    settings = TwitchSettings(client_id=fake.client_id, channel="streamer",
                              api_base=fake.api_base, auth_base=fake.auth_base,
                              eventsub_url=fake.eventsub_url)
    twitch = TwitchChat(bus, settings, store, backoff=Backoff(0.05, 0.3))
    opened: list[QUrl] = []
    errors: list[str] = []
    panel = TwitchAccountPanel(twitch, TaskKeeper(errors.append), open_url=opened.append)
    qtbot.addWidget(panel)
    panel.show()
    yield Rig(fake, twitch, store, panel, opened, errors)
    qloop.run(twitch.stop())
    qloop.run(fake.stop())
    bus.detach()


def click(qtbot: QtBot, button: object) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)  # type: ignore[arg-type]


def test_sign_in_shows_the_code_opens_the_browser_and_names_the_account(
    rig: Rig, qloop: QLoop, qtbot: QtBot
) -> None:
    panel = rig.panel
    assert panel.account_label.text() == "Not signed in to Twitch"
    assert not panel.sign_out_button.isEnabled()
    click(qtbot, panel.sign_in_button)
    qloop.wait_until(panel.code_box.isVisible)
    grant = next(iter(rig.fake.devices.values()))
    assert panel.code_label.text() == grant.user_code
    assert [u.toString() for u in rig.opened] == [
        f"{rig.fake.base}/activate?public=true&device-code={grant.user_code}"]
    assert "expires in 29:" in panel.expiry_label.text()
    assert not panel.sign_in_button.isEnabled()  # one sign-in at a time

    click(qtbot, panel.open_button)  # closed the tab by mistake: open it again
    assert len(rig.opened) == 2
    click(qtbot, panel.copy_button)
    assert QGuiApplication.clipboard().text() == grant.user_code

    rig.fake.approve(grant.user_code, "streamer")
    qloop.wait_until(lambda: panel.account_label.text() == "Signed in to Twitch as streamer")
    assert not panel.code_box.isVisible()
    assert panel.message.text() == "Signed in as streamer."
    assert panel.sign_out_button.isEnabled() and panel.sign_in_button.isEnabled()
    assert rig.store.get(ACCESS_KEY) in rig.fake.tokens
    assert rig.errors == []


def test_cancelling_the_sign_in(rig: Rig, qloop: QLoop, qtbot: QtBot) -> None:
    panel = rig.panel
    click(qtbot, panel.sign_in_button)
    qloop.wait_until(panel.code_box.isVisible)
    click(qtbot, panel.cancel_button)
    qloop.wait_until(lambda: not panel.busy)
    assert not panel.code_box.isVisible()
    assert panel.message.text() == "Sign-in cancelled."
    assert panel.sign_in_button.isEnabled()
    assert panel.account_label.text() == "Not signed in to Twitch"
    assert rig.errors == []


def test_a_failed_sign_in_is_a_sentence_not_a_traceback(
    rig: Rig, qloop: QLoop, qtbot: QtBot
) -> None:
    rig.twitch.settings.client_id = ""
    click(qtbot, rig.panel.sign_in_button)
    qloop.wait_until(lambda: not rig.panel.busy)
    text = rig.panel.message.text()
    assert text.startswith("Twitch needs a client ID.") and "dev.twitch.tv" in text
    assert "Traceback" not in text and rig.errors == []
    assert rig.panel.sign_in_button.isEnabled()


def test_saved_sign_in_is_shown_and_sign_out_forgets_it(
    rig: Rig, qloop: QLoop, qtbot: QtBot
) -> None:
    token = rig.fake.issue_tokens("streamer")
    rig.store.set(ACCESS_KEY, token.access)
    rig.store.set(REFRESH_KEY, token.refresh)
    assert qloop.run(rig.twitch.restore_sign_in()) == "streamer"
    with qtbot.waitSignal(rig.panel.signed_in_changed, timeout=5000) as signal:
        rig.panel.refresh()
    assert signal.args == ["streamer"]
    assert rig.panel.account_label.text() == "Signed in to Twitch as streamer"

    click(qtbot, rig.panel.sign_out_button)
    qloop.wait_until(lambda: rig.panel.account_label.text() == "Not signed in to Twitch")
    assert rig.panel.message.text() == "Signed out of Twitch."
    assert rig.store.get(ACCESS_KEY) is None and rig.store.get(REFRESH_KEY) is None
    assert rig.fake.revoked == [token.access]
    assert not rig.panel.sign_out_button.isEnabled()


def test_the_panel_knows_only_the_account_protocol() -> None:
    tree = ast.parse(inspect.getsource(twitch_account))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not [m for m in imported if m and m.startswith("voxelle_app.integrations")]
