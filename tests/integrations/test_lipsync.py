"""Lip sync follows the audio as it is played: louder → wider, silence → closed, interrupt → shut.

The envelope is checked with exact timestamps; the whole path (MouthLevel events from a real
numpy signal → VTubeStudio → InjectParameterDataRequest) against the fake VTS server, which
records every injected value with the time it arrived.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import numpy as np
import pytest

from tests.integrations.fake_vts import FakeVTS
from voxelle_app.core.bus import EventBus
from voxelle_app.core.events import Interrupt, MouthLevel
from voxelle_app.core.logs import Redactor
from voxelle_app.core.secrets import SecretStore
from voxelle_app.core.settings import VTubeStudioSettings
from voxelle_app.integrations.base import Backoff
from voxelle_app.integrations.vtube_studio import TOKEN_KEY, MouthEnvelope, VTubeStudio

RATE = 16_000
BLOCK = RATE // 50  # playback publishes MouthLevel about 50 times a second


async def until(predicate: Callable[[], bool], timeout: float = 15.0, what: str = "") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.01)


def speech_like(seconds: float, amplitude: float, seed: int = 0) -> np.ndarray:
    """A voiced sound with syllable-rate loudness changes (not a flat tone)."""
    t = np.arange(int(seconds * RATE)) / RATE
    rng = np.random.default_rng(seed)
    voiced = np.sin(2 * np.pi * 180 * t) + 0.5 * np.sin(2 * np.pi * 360 * t + 0.3)
    syllables = 0.65 + 0.35 * np.abs(np.sin(2 * np.pi * 3.5 * t))
    noise = 0.05 * rng.standard_normal(t.size)
    signal = amplitude * (voiced / 1.5 * syllables + noise)
    return signal.astype(np.float32)


def block_loudness(signal: np.ndarray) -> list[float]:
    """RMS of each 20 ms block: what playback reports as it plays the block."""
    n = signal.size // BLOCK
    blocks = signal[: n * BLOCK].reshape(n, BLOCK)
    return [float(v) for v in np.sqrt(np.mean(blocks.astype(np.float64) ** 2, axis=1))]


# --- the envelope, with exact time ------------------------------------------------------


def run_envelope(env: MouthEnvelope, levels: list[float], t0: float = 0.0) -> list[float]:
    out = []
    for i, level in enumerate(levels):
        now = t0 + i * 0.02
        env.feed(level, now)
        out.append(env.step(now))
    return out


def test_louder_audio_opens_the_mouth_wider() -> None:
    sections = [speech_like(0.6, a, seed=i) for i, a in enumerate((0.03, 0.08, 0.25))]
    medians = []
    for signal in sections:
        values = run_envelope(MouthEnvelope(gain=4.0, smoothing=0.5), block_loudness(signal))
        medians.append(statistics.median(values[10:]))
    quiet, medium, loud = medians
    assert 0.0 < quiet < medium < loud <= 1.0


def test_silence_closes_the_mouth_fully() -> None:
    env = MouthEnvelope(gain=4.0, smoothing=0.5)
    levels = block_loudness(speech_like(0.5, 0.2)) + [0.0] * 25
    values = run_envelope(env, levels)
    assert max(values[:25]) > 0.3
    assert values[-15:] == [0.0] * 15  # closed, not "almost closed"
    assert not env.active


def test_playback_that_stops_reporting_closes_the_mouth() -> None:
    env = MouthEnvelope()
    run_envelope(env, block_loudness(speech_like(0.3, 0.2)))
    last = 0.3
    assert env.step(last + 0.05) > 0.0
    assert env.step(last + 0.5) == 0.0  # no MouthLevel for a while: playback stopped
    assert not env.active


def test_an_interrupt_closes_the_mouth_at_once_and_ignores_blocks_in_flight() -> None:
    env = MouthEnvelope(smoothing=0.9)  # slow release: only the interrupt can explain a 0
    values = run_envelope(env, [0.2] * 20)
    assert values[-1] > 0.5
    env.interrupt(0.4)
    assert env.step(0.4) == 0.0
    env.feed(0.2, 0.42)  # a block already in the device's buffer when playback was flushed
    assert env.step(0.42) == 0.0
    env.feed(0.2, 0.7)
    assert env.step(0.7) == 0.0
    env.feed(0.2, 0.9)  # the next reply's audio
    assert env.step(0.92) > 0.0


def test_smoothing_zero_follows_the_level_exactly_and_gain_clips_at_one() -> None:
    env = MouthEnvelope(gain=2.0, smoothing=0.0)
    assert run_envelope(env, [0.1, 0.3, 0.9, 0.2]) == pytest.approx([0.2, 0.6, 1.0, 0.4])


def test_smoothing_opens_faster_than_it_closes() -> None:
    env = MouthEnvelope(gain=1.0, smoothing=0.5, silence_hold=10.0)
    opening = run_envelope(env, [0.8] * 3)
    closing = run_envelope(env, [0.0] * 3, t0=0.06)
    assert 0.8 - opening[1] < closing[1]  # after one block: nearer the open target than
    # the closing value is to zero


# --- the whole path, against the fake VTS --------------------------------------------------


@pytest.fixture
def secrets(tmp_path: Path) -> SecretStore:
    return SecretStore(tmp_path / "secrets.json", Redactor(), use_keyring=False)


@pytest.fixture
async def fake() -> AsyncIterator[FakeVTS]:
    async with FakeVTS() as server:
        yield server


@pytest.fixture
async def vts(fake: FakeVTS, bus: EventBus, secrets: SecretStore) -> AsyncIterator[VTubeStudio]:
    integration = VTubeStudio(
        VTubeStudioSettings(enabled=True, url=fake.url, smile_parameter="MouthSmile"),
        bus, secrets, backoff=Backoff(initial=0.05, maximum=0.3),
    )
    await integration.start()
    await until(lambda: integration.state == "connected", what="connected")
    yield integration
    await integration.stop()


async def play(bus: EventBus, signal: np.ndarray) -> None:
    """Publish MouthLevel the way playback does: one block every 20 ms, as it is played."""
    start = time.monotonic()
    for i, level in enumerate(block_loudness(signal)):
        bus.publish(MouthLevel(value=level))
        await asyncio.sleep(max(0.0, start + (i + 1) * 0.02 - time.monotonic()))


def between(values: list[tuple[float, float]], start: float, end: float) -> list[float]:
    return [v for t, v in values if start <= t < end]


async def test_lip_sync_follows_the_played_audio(
    fake: FakeVTS, vts: VTubeStudio, bus: EventBus
) -> None:
    marks: dict[str, float] = {}
    for name, signal in (
        ("loud", speech_like(0.8, 0.25, seed=1)),
        ("quiet", speech_like(0.8, 0.03, seed=2)),
        ("silent", np.zeros(int(0.8 * RATE), dtype=np.float32)),
        ("again", speech_like(0.4, 0.25, seed=3)),
    ):
        marks[name] = time.monotonic()
        await play(bus, signal)
    marks["interrupt"] = time.monotonic()
    bus.publish(Interrupt(reason="barge_in"))
    await asyncio.sleep(0.3)
    marks["end"] = time.monotonic()

    mouth = fake.values("MouthOpen")
    settle = 0.25  # smoothing and the silence hold need a moment; not a speed assertion
    loud = between(mouth, marks["loud"] + settle, marks["quiet"])
    quiet = between(mouth, marks["quiet"] + settle, marks["silent"])
    silent = between(mouth, marks["silent"] + settle, marks["again"])
    again = between(mouth, marks["again"] + settle, marks["interrupt"])
    after = between(mouth, marks["interrupt"], marks["end"])
    assert len(loud) >= 5 and len(quiet) >= 5 and len(silent) >= 1 and len(again) >= 2
    assert statistics.median(loud) > 2 * statistics.median(quiet) > 0.0
    assert silent == [0.0] * len(silent)  # silence: closed
    assert min(again) > 0.2  # speech resumes: open again
    # Interrupted: the next value sent is closed (one already in flight may precede it).
    assert after and 0.0 in after[:2] and after[-1] == 0.0
    assert all(v == 0.0 for v in after[after.index(0.0):])
    # MouthSmile is driven from the same envelope when it is configured.
    smile = fake.values("MouthSmile")
    assert len(smile) == len(mouth) and max(v for _, v in smile) > 0.3
    # While speaking, values go out at least at 30 per second of speech (counted, not timed).
    speaking = between(mouth, marks["loud"], marks["silent"])
    assert len(speaking) >= 30 * (marks["silent"] - marks["loud"]) * 0.5


async def test_parameter_is_kept_alive_while_connected_and_quiet(
    fake: FakeVTS, vts: VTubeStudio
) -> None:
    start = time.monotonic()
    await asyncio.sleep(2.5)
    times = [t for t, _ in fake.values("MouthOpen") if t >= start]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert len(times) >= 2
    assert max(gaps) < 1.0  # VTube Studio takes a parameter back after 1 s without data
    assert fake.live_value("MouthOpen") == 0.0  # still ours, and closed


async def test_lip_sync_resumes_after_vts_drops_the_connection_mid_speech(
    fake: FakeVTS, vts: VTubeStudio, bus: EventBus, secrets: SecretStore
) -> None:
    stop_talking = asyncio.Event()

    async def talk() -> None:
        seed = 0
        while not stop_talking.is_set():
            await play(bus, speech_like(0.2, 0.2, seed=seed))
            seed += 1

    talker = asyncio.create_task(talk())
    try:
        await until(lambda: any(v > 0.3 for _, v in fake.values()), what="mouth open")
        first_session = fake.injections[-1].session
        await fake.drop()
        await until(lambda: fake.connections == 2 and vts.state == "connected", what="reconnect")
        await until(
            lambda: any(i.session != first_session and i.value > 0.3 for i in fake.injections),
            what="lip sync in the new session",
        )
    finally:
        stop_talking.set()
        await talker
    assert fake.token_requests == 1  # re-authenticated with the stored token
    auths = fake.of_type("AuthenticationRequest")
    assert auths[-1].data["authenticationToken"] == secrets.get(TOKEN_KEY)
    assert vts.mouth_value >= 0.0
