"""`voxelle say` and `voxelle transcribe` as a streamer would run them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from voxelle_app.core.audio.wavio import read_wav

pytestmark = pytest.mark.models


def voxelle(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "voxelle_app", *args], capture_output=True,
                          text=True, timeout=300, env=dict(os.environ))


def test_say_then_transcribe_round_trip(voxelle_home: Path, tmp_path: Path) -> None:
    out = tmp_path / "hello.wav"
    r = voxelle("say", "Good evening everyone, welcome to the stream.", "--out", str(out),
                "--effects", "deep")
    assert r.returncode == 0, r.stderr
    audio, rate = read_wav(out)
    assert rate == 22050 and audio.size > rate
    r = voxelle("transcribe", str(out))
    assert r.returncode == 0, r.stderr
    heard = set(r.stdout.strip().lower().replace(",", "").replace(".", "").split())
    assert len(heard & {"good", "evening", "everyone", "welcome", "to", "the", "stream"}) >= 5
    assert len(r.stdout.strip().splitlines()) == 1  # only the text on stdout


def test_clear_errors(voxelle_home: Path, tmp_path: Path) -> None:
    r = voxelle("transcribe", str(tmp_path / "missing.wav"))
    assert r.returncode == 2 and "does not exist" in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "bad.wav").write_text("not audio")
    r = voxelle("transcribe", str(tmp_path / "bad.wav"))
    assert r.returncode == 2 and "not a PCM WAV" in r.stderr
    r = voxelle("say", "hi", "--out", str(tmp_path / "x.wav"), "--effects", "nope")
    assert r.returncode == 2 and "no effect preset" in r.stderr
    r = voxelle("say", "hi", "--out", str(tmp_path / "x.wav"), "--voice", str(tmp_path / "v.onnx"))
    assert r.returncode == 2 and "does not exist" in r.stderr
