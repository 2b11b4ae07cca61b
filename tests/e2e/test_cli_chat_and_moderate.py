"""`voxelle chat` and `voxelle moderate` as a streamer runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def voxelle(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "voxelle_app", *args], input=stdin,
                          capture_output=True, text=True, timeout=300, env=dict(os.environ))


@pytest.mark.models
def test_chat_once_prints_one_reply(voxelle_home: Path) -> None:
    r = voxelle("chat", "--once", "Hello! Say hi to the chat.")
    assert r.returncode == 0, r.stderr
    lines = [x for x in r.stdout.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("Vox: ") and len(lines[0]) > len("Vox: ") + 3


@pytest.mark.models
def test_chat_reads_lines_until_the_end_of_input(voxelle_home: Path) -> None:
    r = voxelle("chat", stdin="Hi there!\nWhat is your name?\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("Vox: ") == 2


def test_moderate_prints_one_json_object_per_line(voxelle_home: Path, tmp_path: Path) -> None:
    extra = tmp_path / "mine.txt"
    extra.write_text("# my own words\nbananas\n")
    r = voxelle("moderate", "--blocklist", str(extra),
                stdin="hello chat\nyou are a f.u.c.k.i.n.g clown\nI love this class\nB A N A N A S\n")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [row["allowed"] for row in rows] == [True, False, True, False]
    assert rows[0] == {"text": "hello chat", "allowed": True, "matched": []}
    assert rows[1]["matched"] and rows[3]["matched"] == ["bananas"]


def test_moderate_with_a_missing_file_says_so(voxelle_home: Path, tmp_path: Path) -> None:
    r = voxelle("moderate", "--blocklist", str(tmp_path / "nope.txt"), stdin="hi\n")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "nope.txt" in r.stderr
