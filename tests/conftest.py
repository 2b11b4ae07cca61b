"""Shared test set-up: offscreen Qt, a private VOXELLE_HOME, and a bus on the test's loop."""

from __future__ import annotations

import os

# Qt aborts without a display unless told to render offscreen; set it before any Qt import.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from voxelle_app.core.bus import EventBus
from voxelle_app.core.events import Event


@pytest.fixture
def voxelle_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private VOXELLE_HOME, and no VOXELLE_* overrides leaking in from the environment."""
    for name in list(os.environ):
        if name.startswith("VOXELLE_") and "__" in name:
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    monkeypatch.setenv("VOXELLE_HOME", str(home))
    return home


@pytest.fixture
async def bus() -> AsyncIterator[EventBus]:
    """A bus attached to the test's running loop (async tests only; sync tests make their own)."""
    b = EventBus()
    b.attach(asyncio.get_running_loop())
    yield b
    b.detach()


class Recorder:
    """Collects every event published on a bus, in order."""

    def __init__(self, bus: EventBus) -> None:
        self.events: list[Event] = []
        bus.subscribe(Event, self.events.append)

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]

    async def wait_for(self, kind: type, predicate=lambda e: True, timeout: float = 10.0):
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for e in self.events:
                if isinstance(e, kind) and predicate(e):
                    return e
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no {kind.__name__} within {timeout} s")
            await asyncio.sleep(0.01)


@pytest.fixture
def recorder(bus: EventBus) -> Recorder:
    return Recorder(bus)


@pytest.fixture
def pulse() -> None:
    """Real audio through a PulseAudio null sink (scripts/test.sh starts it)."""
    if not os.environ.get("VOXELLE_TEST_PULSE"):
        pytest.skip("needs the PulseAudio null sink that scripts/test.sh starts")


@pytest.fixture(scope="session")
def piper():
    """The real default voice (en_US-joe-medium), loaded once."""
    from voxelle_app.core.operations.tts.piper import PiperTTS

    tts = PiperTTS()
    tts.load()
    return tts


@pytest.fixture(scope="session")
def whisper():
    """The real default speech model (Whisper tiny.en), loaded once."""
    from voxelle_app.core.operations.stt.faster_whisper import FasterWhisperSTT

    stt = FasterWhisperSTT()
    stt.load()
    return stt


def speak(tts, text: str, rate: int = 16000):
    """Real synthesized speech for ``text`` at ``rate`` Hz."""
    import numpy as np

    from voxelle_app.core.audio.resample import resample

    audio = np.concatenate(list(tts.synthesize(text)))
    return resample(audio, tts.sample_rate, rate)
