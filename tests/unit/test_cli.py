from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from voxelle_app import __version__


def voxelle(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voxelle_app", *args],
        capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})},
    )


def test_version() -> None:
    r = voxelle("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"voxelle {__version__}"


@pytest.mark.audio
def test_devices_lists_real_devices(pulse: None) -> None:
    r = voxelle("devices")
    assert r.returncode == 0, r.stderr
    assert "default input" in r.stdout
    assert len(r.stdout.strip().splitlines()) >= 3


def test_doctor_checks_everything_and_exits_zero_without_failures(voxelle_home: Path) -> None:
    r = voxelle("doctor")
    names = [line.split("]")[1].split(":")[0].strip() for line in r.stdout.splitlines()
             if line.startswith("[")]
    assert names == ["python", "qt", "audio backend", "audio devices", "settings", "log dir",
                     "keyring"]
    statuses = [line[1:5].strip() for line in r.stdout.splitlines() if line.startswith("[")]
    assert set(statuses) <= {"ok", "warn", "fail"}
    assert r.returncode == (1 if "fail" in statuses else 0)


def test_doctor_warns_about_a_broken_settings_file_without_moving_it(voxelle_home: Path) -> None:
    settings = voxelle_home / "config" / "settings.toml"
    settings.parent.mkdir(parents=True)
    settings.write_text("[llm\n")
    r = voxelle("doctor")
    line = next(x for x in r.stdout.splitlines() if "settings:" in x)
    assert line.startswith("[warn]") and "fix:" in r.stdout
    assert settings.read_text() == "[llm\n"


def test_doctor_fails_on_unwritable_log_dir(voxelle_home: Path) -> None:
    if os.geteuid() == 0:
        # root writes anywhere; point the home at a regular file instead
        blocker = voxelle_home.parent / "file"
        blocker.write_text("x")
        r = voxelle("doctor", env={"VOXELLE_HOME": str(blocker)})
    else:
        voxelle_home.mkdir(parents=True)
        (voxelle_home / "logs").mkdir()
        (voxelle_home / "logs").chmod(0o500)
        r = voxelle("doctor")
    assert r.returncode == 1
    assert any(x.startswith("[fail] log dir") for x in r.stdout.splitlines())


def test_no_display_is_a_clear_message_not_a_qt_abort(voxelle_home: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    r = subprocess.run([sys.executable, "-m", "voxelle_app"], capture_output=True, text=True,
                       timeout=120, env=env)
    assert r.returncode == 2
    assert "no display found" in r.stderr and "voxelle run --headless" in r.stderr
