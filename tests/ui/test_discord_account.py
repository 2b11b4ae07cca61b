"""The Discord account panel, offscreen, wired to the real Discord integration's account
methods and a file-backed secrets store."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QLabel, QLineEdit
from pytestqt.qtbot import QtBot

from tests.integrations.fake_discord import FAKE_TOKEN
from voxelle_app.core.bus import EventBus
from voxelle_app.core.logs import Redactor
from voxelle_app.core.secrets import SecretStore
from voxelle_app.core.settings import DiscordSettings
from voxelle_app.integrations.discord_bot import TOKEN_KEY, DiscordBot
from voxelle_app.ui.panels import discord_account
from voxelle_app.ui.panels.discord_account import DiscordAccountPanel


class IdleCoHost:
    persona_name = "Vox"

    def submit(self, *args: object, **kwargs: object) -> None: ...

    def stop_speaking(self) -> None: ...

    def set_ears_muted(self, muted: bool) -> None: ...

    def set_panic(self, active: bool) -> None: ...


@pytest.fixture
def secrets(tmp_path: Path) -> SecretStore:
    return SecretStore(tmp_path / "secrets.json", Redactor(), use_keyring=False)


@pytest.fixture
def panel(qtbot: QtBot, secrets: SecretStore) -> Iterator[DiscordAccountPanel]:
    bus = EventBus()
    account = DiscordBot(DiscordSettings(), bus, secrets, IdleCoHost())
    widget = DiscordAccountPanel(account)
    qtbot.addWidget(widget)
    widget.show()
    yield widget


def visible_texts(panel: DiscordAccountPanel) -> str:
    texts = [label.text() for label in panel.findChildren(QLabel)]
    texts += [edit.text() for edit in panel.findChildren(QLineEdit)]
    return "\n".join(texts)


def test_token_is_saved_and_never_shown_again(panel: DiscordAccountPanel, secrets: SecretStore,
                                              qtbot: QtBot) -> None:
    assert "No bot token" in panel.status.text()
    assert not panel.remove_button.isEnabled()
    assert not panel.save_button.isEnabled()
    assert panel.token_edit.echoMode() == QLineEdit.EchoMode.Password

    qtbot.keyClicks(panel.token_edit, FAKE_TOKEN)
    assert panel.save_button.isEnabled()
    with qtbot.waitSignal(panel.token_changed) as signal:
        panel.save_button.click()

    assert signal.args == [True]
    assert secrets.get(TOKEN_KEY) == FAKE_TOKEN
    assert panel.token_edit.text() == ""
    assert "is saved" in panel.status.text()
    assert panel.remove_button.isEnabled()
    assert FAKE_TOKEN not in visible_texts(panel)


def test_a_wrong_paste_is_explained_not_stored_and_not_echoed(panel: DiscordAccountPanel,
                                                             secrets: SecretStore,
                                                             qtbot: QtBot) -> None:
    qtbot.keyClicks(panel.token_edit, "my-password-123")
    panel.token_edit.returnPressed.emit()

    assert secrets.get(TOKEN_KEY) is None
    assert panel.error.isVisible()
    assert "does not look like a Discord bot token" in panel.error.text()
    assert panel.token_edit.text() == ""
    assert "my-password-123" not in visible_texts(panel)


def test_remove_token(panel: DiscordAccountPanel, secrets: SecretStore, qtbot: QtBot) -> None:
    secrets.set(TOKEN_KEY, FAKE_TOKEN)
    panel.refresh()
    assert panel.remove_button.isEnabled()
    with qtbot.waitSignal(panel.token_changed) as signal:
        panel.remove_button.click()
    assert signal.args == [False]
    assert secrets.get(TOKEN_KEY) is None
    assert "No bot token" in panel.status.text()


def test_guidance_covers_the_portal_steps_the_intent_error_and_voice(panel: DiscordAccountPanel) -> None:
    steps = panel.steps.text()
    assert "discord.com/developers/applications" in steps
    assert "MESSAGE CONTENT INTENT" in steps
    assert "applications.commands" in steps
    intent = panel.intent_help.text()
    assert "Message Content intent" in intent and "4014" in intent
    voice = panel.voice_note.text()
    assert "cannot hear" in voice and "DAVE" in voice


def test_panel_does_not_import_integrations() -> None:
    tree = ast.parse(inspect.getsource(discord_account))
    modules = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    modules += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in modules if m.startswith("voxelle_app.integrations")]
