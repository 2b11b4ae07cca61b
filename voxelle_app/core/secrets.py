"""Secrets (OAuth tokens, bot tokens) in the OS keyring.

Where no usable keyring backend exists (a headless Linux box without Secret Service), the
store falls back to a JSON file with 0600 permissions under the data dir and says so
plainly (``warning``), so the streamer knows their tokens sit in a file. Every secret read
or written is registered with the log ``Redactor`` so it can never reach a log line.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from voxelle_app.core.errors import ConfigurationError
from voxelle_app.core.logs import Category, Redactor, get_logger
from voxelle_app.core.paths import atomic_write_text

SERVICE = "voxelle"
_log = get_logger("voxelle.secrets", Category.SECURITY)


def _usable_keyring() -> Any | None:
    try:
        import keyring
        from keyring.backends import fail

        backend = keyring.get_keyring()
    except Exception:  # a broken keyring install must not stop the app
        return None
    if isinstance(backend, fail.Keyring) or type(backend).__module__ == "keyring.backends.null":
        return None
    try:
        priority = float(getattr(backend, "priority", 1))
    except Exception:
        priority = 1.0
    return backend if priority > 0 else None


class SecretStore:
    def __init__(
        self,
        fallback_file: Path,
        redactor: Redactor,
        backend: Any | None = None,
        use_keyring: bool = True,
    ) -> None:
        self.fallback_file = fallback_file
        self.redactor = redactor
        self._lock = threading.Lock()
        self._backend = backend if backend is not None else (
            _usable_keyring() if use_keyring else None
        )
        self.warning = ""
        if self._backend is None:
            self.warning = (
                f"No system keyring is available, so secrets are stored in {fallback_file} "
                "(readable only by your user account). Install and unlock a keyring "
                "(for example GNOME Keyring or KWallet) to keep them there instead."
            )

    @property
    def backend_name(self) -> str:
        if self._backend is None:
            return f"file ({self.fallback_file})"
        return f"{type(self._backend).__module__}.{type(self._backend).__name__}"

    def get(self, key: str) -> str | None:
        with self._lock:
            if self._backend is not None:
                try:
                    value = self._backend.get_password(SERVICE, key)
                except Exception as exc:
                    raise ConfigurationError(
                        f"The system keyring could not be read ({type(exc).__name__}).",
                        hint="Unlock your keyring and try again.",
                        component="secrets",
                    ) from None
            else:
                value = self._read_file().get(key)
        self.redactor.register(value)
        return value

    def set(self, key: str, value: str) -> None:
        if not value:
            raise ValueError("refusing to store an empty secret; use delete() instead")
        self.redactor.register(value)
        with self._lock:
            if self._backend is not None:
                try:
                    self._backend.set_password(SERVICE, key, value)
                except Exception as exc:
                    raise ConfigurationError(
                        f"The system keyring refused to store {key} ({type(exc).__name__}).",
                        hint="Unlock your keyring and try again.",
                        component="secrets",
                    ) from None
            else:
                data = self._read_file()
                data[key] = value
                self._write_file(data)
        _log.info("stored secret %s in %s", key, self.backend_name)

    def delete(self, key: str) -> None:
        with self._lock:
            if self._backend is not None:
                try:
                    self._backend.delete_password(SERVICE, key)
                except Exception:
                    pass  # deleting what is not there is fine
            else:
                data = self._read_file()
                if data.pop(key, None) is not None:
                    self._write_file(data)
        _log.info("deleted secret %s", key)

    def _read_file(self) -> dict[str, str]:
        try:
            text = self.fallback_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        mode = self.fallback_file.stat().st_mode & 0o777
        if mode & 0o077:
            os.chmod(self.fallback_file, 0o600)
            logging.getLogger("voxelle.secrets").warning(
                "secrets file had permissions %o; tightened to 600", mode,
                extra={"category": Category.SECURITY},
            )
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            raise ConfigurationError(
                f"The secrets file {self.fallback_file} is damaged.",
                hint="Delete it and sign in to Twitch and Discord again.",
                component="secrets",
            ) from None
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _write_file(self, data: dict[str, str]) -> None:
        atomic_write_text(self.fallback_file, json.dumps(data, indent=1), mode=0o600)
