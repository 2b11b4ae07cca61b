from __future__ import annotations

import stat
from pathlib import Path

import pytest
from keyring.backend import KeyringBackend

from voxelle_app.core.logs import Redactor
from voxelle_app.core.secrets import SecretStore


class MemoryKeyring(KeyringBackend):
    """A real keyring backend (the keyring package's own interface), kept in memory."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.data.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.data[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.data.pop((service, username), None)


def test_fallback_file_round_trip_with_0600(tmp_path: Path) -> None:
    redactor = Redactor()
    store = SecretStore(tmp_path / "secrets.json", redactor, use_keyring=False)
    assert "keyring" in store.warning
    store.set("twitch.access_token", "tok-123456")
    assert stat.S_IMODE((tmp_path / "secrets.json").stat().st_mode) == 0o600
    again = SecretStore(tmp_path / "secrets.json", Redactor(), use_keyring=False)
    assert again.get("twitch.access_token") == "tok-123456"
    again.delete("twitch.access_token")
    assert again.get("twitch.access_token") is None
    assert redactor.redact("x tok-123456 y") == "x [REDACTED] y"


def test_loose_permissions_are_tightened(tmp_path: Path) -> None:
    store = SecretStore(tmp_path / "secrets.json", Redactor(), use_keyring=False)
    store.set("k", "value-1")
    (tmp_path / "secrets.json").chmod(0o644)
    assert store.get("k") == "value-1"
    assert stat.S_IMODE((tmp_path / "secrets.json").stat().st_mode) == 0o600


def test_keyring_backend_round_trip_writes_no_file(tmp_path: Path) -> None:
    backend = MemoryKeyring()
    redactor = Redactor()
    store = SecretStore(tmp_path / "secrets.json", redactor, backend=backend)
    assert store.warning == ""
    store.set("discord.bot_token", "bot-token-abcdef")
    assert backend.data[("voxelle", "discord.bot_token")] == "bot-token-abcdef"
    assert not (tmp_path / "secrets.json").exists()
    assert SecretStore(tmp_path / "s.json", Redactor(), backend=backend).get(
        "discord.bot_token"
    ) == "bot-token-abcdef"
    store.delete("discord.bot_token")
    assert store.get("discord.bot_token") is None
    assert "bot-token-abcdef" not in redactor.redact("bot-token-abcdef")


def test_empty_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        SecretStore(tmp_path / "s.json", Redactor(), use_keyring=False).set("k", "")
