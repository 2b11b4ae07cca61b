"""``voxelle doctor``: one line per check, ok/warn/fail, with a fix for each problem."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from voxelle_app.core.errors import describe
from voxelle_app.core.paths import AppPaths

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    hint: str = ""


def check_python(env: Mapping[str, str], paths: AppPaths) -> Check:
    v = sys.version_info
    if v >= (3, 11):
        return Check("python", "ok", f"Python {v.major}.{v.minor}.{v.micro}")
    return Check("python", "fail", f"Python {v.major}.{v.minor}", "Install Python 3.11 or newer.")


def check_qt(env: Mapping[str, str], paths: AppPaths) -> Check:
    try:
        from PySide6 import __version__ as qt_version
    except ImportError as exc:
        return Check("qt", "fail", f"PySide6 is missing ({exc})", "Run scripts/run.sh again.")
    platform = env.get("QT_QPA_PLATFORM", "")
    display = env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")
    if platform in ("offscreen", "minimal"):
        return Check("qt", "ok", f"PySide6 {qt_version}, platform {platform} (no window shown)")
    if sys.platform.startswith("linux") and not display:
        return Check(
            "qt", "warn", f"PySide6 {qt_version}, but no display (DISPLAY is not set)",
            "Run Voxelle from your desktop session, or use the headless commands.",
        )
    return Check("qt", "ok", f"PySide6 {qt_version}, platform {platform or 'default'}")


def check_audio(env: Mapping[str, str], paths: AppPaths) -> Check:
    from voxelle_app.core.audio.devices import PORTAUDIO_HINT, sounddevice_module

    try:
        sd = sounddevice_module()
        version = sd.get_portaudio_version()[1]
    except Exception as exc:
        return Check("audio backend", "fail", describe(exc), PORTAUDIO_HINT)
    return Check("audio backend", "ok", str(version))


def check_devices(env: Mapping[str, str], paths: AppPaths) -> Check:
    from voxelle_app.core.audio.devices import list_devices

    try:
        devices = list_devices()
    except Exception as exc:
        return Check("audio devices", "fail", describe(exc), "Fix the audio backend first.")
    n_in = sum(1 for d in devices if d.max_input_channels > 0)
    n_out = sum(1 for d in devices if d.max_output_channels > 0)
    detail = f"{n_in} input, {n_out} output"
    if n_in and n_out:
        return Check("audio devices", "ok", detail)
    return Check(
        "audio devices", "warn", detail,
        "Connect a microphone and speakers or headphones, or start PulseAudio/PipeWire.",
    )


def check_settings(env: Mapping[str, str], paths: AppPaths) -> Check:
    from voxelle_app.core.settings import SettingsStore

    store = SettingsStore(paths.settings_file, dict(env))
    if not paths.settings_file.exists():
        return Check("settings", "ok", f"none yet; defaults will be written to {paths.settings_file}")
    problem = store.check()
    if problem:
        return Check(
            "settings", "warn", f"{paths.settings_file} cannot be read: {problem}",
            "Voxelle will keep it aside and start on defaults; or fix the line named above.",
        )
    return Check("settings", "ok", str(paths.settings_file))


def check_log_dir(env: Mapping[str, str], paths: AppPaths) -> Check:
    try:
        paths.log_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=paths.log_dir):
            pass
    except OSError as exc:
        return Check("log dir", "fail", f"{paths.log_dir}: {exc.strerror}",
                     "Make the folder writable or set VOXELLE_HOME to a writable folder.")
    return Check("log dir", "ok", str(paths.log_dir))


def check_keyring(env: Mapping[str, str], paths: AppPaths) -> Check:
    from voxelle_app.core.logs import Redactor
    from voxelle_app.core.secrets import SecretStore

    store = SecretStore(paths.secrets_file, Redactor())
    if store.warning:
        return Check("keyring", "warn", f"no system keyring; using {paths.secrets_file} (0600)",
                     "Install and unlock GNOME Keyring or KWallet to keep tokens there.")
    return Check("keyring", "ok", store.backend_name)


CHECKS: list[Callable[[Mapping[str, str], AppPaths], Check]] = [
    check_python, check_qt, check_audio, check_devices, check_settings, check_log_dir,
    check_keyring,
]


def run_checks(env: Mapping[str, str] = os.environ) -> list[Check]:
    paths = AppPaths.from_env(dict(env))
    results = []
    for check in CHECKS:
        try:
            results.append(check(env, paths))
        except Exception as exc:  # a check must never crash the doctor
            results.append(Check(check.__name__.removeprefix("check_"), "fail", describe(exc)))
    return results
