"""`voxelle run --headless` end to end on the real default models."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import speak
from voxelle_app.core.audio.wavio import read_wav, write_wav

pytestmark = [pytest.mark.models, pytest.mark.slow]

CHAIN = ["SpeechStarted", "SpeechEnded", "TranscriptFinal", "UserInput", "ReplyStarted",
         "ReplyToken", "ReplySentence", "SpeechAudioStarted", "TurnTimings", "ReplyFinished"]


@pytest.mark.parametrize("fast", [False, True], ids=["paced", "fast"])
def test_a_spoken_question_gets_a_spoken_answer(
    voxelle_home: Path, tmp_path: Path, piper, whisper, fast: bool
) -> None:
    question = speak(piper, "Hey Vox, what is your favorite video game?")
    silence = np.zeros(16000, np.float32)
    wav_in = tmp_path / "in.wav"
    write_wav(wav_in, np.concatenate([silence, question, silence]), 16000)
    wav_out, events_out = tmp_path / "out.wav", tmp_path / "events.jsonl"
    args = ["run", "--headless", "--input-wav", str(wav_in), "--output-wav", str(wav_out),
            "--events-out", str(events_out)] + (["--fast"] if fast else [])
    r = subprocess.run([sys.executable, "-m", "voxelle_app", *args], capture_output=True,
                       text=True, timeout=300, env=dict(os.environ))
    assert r.returncode == 0, r.stderr

    events = [json.loads(line) for line in events_out.read_text().splitlines()]
    types = [e["type"] for e in events]
    positions = [types.index(name) for name in CHAIN]
    assert positions == sorted(positions), list(zip(CHAIN, positions, strict=True))
    heard = next(e for e in events if e["type"] == "TranscriptFinal")["text"].lower()
    words_heard = set(heard.replace(",", " ").replace("?", " ").replace(".", " ").split())
    assert len(words_heard & {"hey", "what", "is", "your", "favorite", "video", "game"}) >= 5, heard
    finished = next(e for e in events if e["type"] == "ReplyFinished")
    assert finished["spoken_text"] and not finished["interrupted"]

    audio, rate = read_wav(wav_out)
    assert audio.size > rate  # more than a second of speech
    from voxelle_app.core.audio.resample import resample

    said = whisper.transcribe(resample(audio, rate, 16000)).text
    words = re.findall(r"[A-Za-z']+", said)
    assert len(words) >= 3, said
    common = {"i", "you", "the", "a", "to", "it", "is", "and", "that", "my", "of", "for", "in",
              "what", "game", "games", "love", "play", "like", "favorite", "so", "be", "are"}
    assert any(w.lower() in common for w in words), said


def test_silence_only_is_a_clear_error(voxelle_home: Path, tmp_path: Path) -> None:
    wav_in = tmp_path / "quiet.wav"
    write_wav(wav_in, np.zeros(16000 * 2, np.float32), 16000)
    r = subprocess.run([sys.executable, "-m", "voxelle_app", "run", "--headless", "--fast",
                        "--input-wav", str(wav_in), "--output-wav", str(tmp_path / "o.wav")],
                       capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert r.returncode == 1
    assert "no speech was understood" in r.stderr
