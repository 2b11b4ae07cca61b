from __future__ import annotations

import queue
import time

import numpy as np
import pytest

from voxelle_app.core.audio.capture import AudioCapture
from voxelle_app.core.audio.devices import list_devices, resolve_device
from voxelle_app.core.audio.engine import tone
from voxelle_app.core.audio.playback import DeviceOutput, PlaybackQueue
from voxelle_app.core.errors import ConfigurationError

pytestmark = pytest.mark.audio


def dominant_frequency(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[int(np.argmax(spectrum))])


def test_lists_real_devices(pulse: None) -> None:
    devices = list_devices()
    assert any(d.max_input_channels > 0 for d in devices)
    assert any(d.max_output_channels > 0 for d in devices)
    d = devices[0]
    assert d.host_api and d.default_samplerate > 0


def test_missing_device_falls_back_to_default(pulse: None) -> None:
    d = resolve_device("a microphone that was unplugged", "input")
    assert d.max_input_channels > 0


def test_opens_a_real_input_stream_and_hears_what_is_played(pulse: None) -> None:
    blocks: queue.Queue[np.ndarray] = queue.Queue()
    capture = AudioCapture("", blocks.put, rate=16000, block_ms=20)
    out_queue = PlaybackQueue(48000)
    output = DeviceOutput(out_queue)
    capture.start()
    output.start()
    try:
        assert capture.running
        for _ in range(3):
            out_queue.enqueue(tone(660.0, 1.0, 48000))
        got: list[np.ndarray] = []
        deadline = time.monotonic() + 15
        heard = False
        while time.monotonic() < deadline and not heard:
            try:
                got.append(blocks.get(timeout=1))
            except queue.Empty:
                continue
            audio = np.concatenate(got[-25:])
            if audio.size >= 8000 and np.sqrt(np.mean(audio**2)) > 0.05:
                heard = abs(dominant_frequency(audio[-8000:], 16000) - 660.0) < 15
    finally:
        output.stop()
        capture.stop()
    assert all(b.dtype == np.float32 and b.ndim == 1 for b in got)
    assert heard, "the tone played into the null sink was not captured back from its monitor"


def test_no_device_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from voxelle_app.core.audio import devices as devmod

    monkeypatch.setattr(devmod, "list_devices", lambda refresh=False: [])
    with pytest.raises(ConfigurationError) as info:
        devmod.resolve_device("", "output")
    assert "No sound output device" in info.value.user_message()


async def test_a_microphone_that_stops_is_reported_and_reopened(
    pulse: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from voxelle_app.core.audio import engine as engine_module
    from voxelle_app.core.audio.engine import AudioEngine
    from voxelle_app.core.bus import EventBus
    from voxelle_app.core.events import StageError, StageStatus
    from voxelle_app.core.settings import AudioSettings

    bus = EventBus()
    bus.attach(asyncio.get_running_loop())
    seen: list[object] = []
    bus.subscribe(StageError, seen.append)
    bus.subscribe(StageStatus, seen.append)
    monkeypatch.setattr(engine_module, "REOPEN_DELAYS", (0.2, 0.5))
    engine = AudioEngine(AudioSettings(), bus)
    try:
        await engine.start(output=False)
        assert engine.capture is not None and engine.capture.running
        first = engine.capture
        first._stream.abort()  # the device goes away under the stream, as an unplug does
        for _ in range(200):
            await asyncio.sleep(0.05)
            if engine.capture is not None and engine.capture is not first and engine.capture.running:
                break
        errors = [e for e in seen if isinstance(e, StageError)]
        assert errors and "stopped" in errors[0].message
        assert engine.capture is not first and engine.capture.running
        ready = [e for e in seen if isinstance(e, StageStatus) and e.state == "ready"]
        assert len(ready) >= 2
    finally:
        await engine.stop()
