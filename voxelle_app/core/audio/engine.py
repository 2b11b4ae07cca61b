"""The app's sound: one microphone stream and one output stream, opened off the loop.

Input blocks go from PortAudio's thread into a queue; the "ears" thread takes them, meters
them (``InputLevel`` events, 25 per second) and hands them to listeners (the VAD). Output
is a ``PlaybackQueue`` that the pipeline fills and flushes. A device that stops mid-stream
is reported and reopened (the configured one if it is back, else the default).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable

import numpy as np

from voxelle_app.core.audio.capture import AudioCapture, block_level
from voxelle_app.core.audio.playback import DeviceOutput, PlaybackHooks, PlaybackQueue
from voxelle_app.core.audio.resample import resample
from voxelle_app.core.bus import EventBus
from voxelle_app.core.errors import describe
from voxelle_app.core.events import InputLevel, StageError, StageStatus
from voxelle_app.core.settings import AudioSettings

_log = logging.getLogger("voxelle.audio")

INPUT_RATE = 16000
OUTPUT_RATE = 48000
LEVEL_INTERVAL = 0.04
REOPEN_DELAYS = (1.0, 2.0, 5.0, 10.0)


def tone(freq: float = 440.0, seconds: float = 0.8, rate: int = OUTPUT_RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.3 * np.sin(2 * np.pi * freq * t)
    fade = min(len(t) // 10, int(0.02 * rate))
    envelope = np.ones_like(t)
    envelope[:fade] = np.linspace(0, 1, fade)
    envelope[-fade:] = np.linspace(1, 0, fade)
    return (wave * envelope).astype(np.float32)


class AudioEngine:
    def __init__(self, settings: AudioSettings, bus: EventBus, hooks: PlaybackHooks | None = None):
        self.settings = settings
        self.bus = bus
        self.playback = PlaybackQueue(OUTPUT_RATE, hooks or PlaybackHooks())
        self.output: DeviceOutput | None = None
        self.capture: AudioCapture | None = None
        self._blocks: queue.Queue[np.ndarray] = queue.Queue(maxsize=500)
        self._listeners: list[Callable[[np.ndarray], None]] = []
        self._ears: threading.Thread | None = None
        self._ears_stop = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reopen_tasks: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self, input: bool = True, output: bool = True) -> None:
        self._loop = asyncio.get_running_loop()
        if output:
            await self.open_output(self.settings.output_device)
        if input:
            await self.open_input(self.settings.input_device)

    async def stop(self) -> None:
        for task in list(self._reopen_tasks):
            task.cancel()
        self._ears_stop.set()
        async with self._lock:
            await asyncio.to_thread(self._close_all)
        if self._ears is not None:
            await asyncio.to_thread(self._ears.join, 2.0)
            self._ears = None

    def _close_all(self) -> None:
        if self.capture is not None:
            self.capture.stop()
            self.capture = None
        if self.output is not None:
            self.output.stop()
            self.output = None

    async def open_input(self, name: str) -> bool:
        async with self._lock:
            self.bus.publish(StageStatus(component="microphone", state="loading", detail=name))
            if self.capture is not None:
                await asyncio.to_thread(self.capture.stop)
            capture = AudioCapture(
                name, self._on_block, INPUT_RATE, self.settings.block_ms, self.settings.latency,
                on_stopped=self._device_stopped("microphone"),
            )
            try:
                device = await asyncio.to_thread(capture.start)
            except Exception as exc:
                self.capture = None
                self._report("microphone", exc)
                return False
            self.capture = capture
            self._ensure_ears()
            self.bus.publish(StageStatus(component="microphone", state="ready", detail=device.label))
            return True

    async def open_output(self, name: str) -> bool:
        async with self._lock:
            self.bus.publish(StageStatus(component="speakers", state="loading", detail=name))
            if self.output is not None:
                await asyncio.to_thread(self.output.stop)
            output = DeviceOutput(
                self.playback, name, self.settings.block_ms, self.settings.latency,
                on_stopped=self._device_stopped("speakers"),
            )
            try:
                device = await asyncio.to_thread(output.start)
            except Exception as exc:
                self.output = None
                self._report("speakers", exc)
                return False
            self.output = output
            self.bus.publish(StageStatus(component="speakers", state="ready", detail=device.label))
            return True

    # --- output ------------------------------------------------------------------------

    def play(self, audio: np.ndarray, rate: int, tag: object = None, last: bool = True) -> None:
        self.playback.enqueue(resample(audio, rate, self.playback.rate), tag, last)

    def play_test_tone(self) -> None:
        self.playback.enqueue(tone(rate=self.playback.rate))

    # --- input -------------------------------------------------------------------------

    def add_listener(self, fn: Callable[[np.ndarray], None]) -> Callable[[], None]:
        """``fn`` gets every 16 kHz input block, in the ears thread."""
        self._listeners.append(fn)
        return lambda: self._listeners.remove(fn) if fn in self._listeners else None

    def _on_block(self, block: np.ndarray) -> None:  # PortAudio thread
        with contextlib.suppress(queue.Full):
            self._blocks.put_nowait(block)

    def _ensure_ears(self) -> None:
        if self._ears is None or not self._ears.is_alive():
            self._ears_stop.clear()
            self._ears = threading.Thread(target=self._ears_loop, name="voxelle-ears", daemon=True)
            self._ears.start()

    def _ears_loop(self) -> None:
        last_level = 0.0
        peak = rms_acc = 0.0
        n = 0
        while not self._ears_stop.is_set():
            try:
                block = self._blocks.get(timeout=0.25)
            except queue.Empty:
                continue
            rms, pk = block_level(block)
            rms_acc += rms * rms
            n += 1
            peak = max(peak, pk)
            now = time.monotonic()
            if now - last_level >= LEVEL_INTERVAL:
                self.bus.publish(InputLevel(rms=float(np.sqrt(rms_acc / n)), peak=peak))
                last_level, peak, rms_acc, n = now, 0.0, 0.0, 0
            for listener in list(self._listeners):
                try:
                    listener(block)
                except Exception:
                    _log.exception("input listener failed")

    # --- failures ----------------------------------------------------------------------

    def _report(self, component: str, exc: BaseException) -> None:
        message = describe(exc)
        _log.error("%s: %s", component, message)
        self.bus.publish(StageStatus(component=component, state="failed", detail=message))
        self.bus.publish(StageError(component=component, message=message))

    def _device_stopped(self, component: str) -> Callable[[str], None]:
        def stopped(message: str) -> None:  # PortAudio thread
            loop = self._loop
            if loop is None or loop.is_closed():
                return
            loop.call_soon_threadsafe(self._schedule_reopen, component, message)

        return stopped

    def _schedule_reopen(self, component: str, message: str) -> None:
        self.bus.publish(StageError(component=component, message=message))
        task = asyncio.ensure_future(self._reopen(component))
        self._reopen_tasks.add(task)
        task.add_done_callback(self._reopen_tasks.discard)

    async def _reopen(self, component: str) -> None:
        for delay in REOPEN_DELAYS:
            await asyncio.sleep(delay)
            if component == "microphone":
                ok = await self.open_input(self.settings.input_device)
            else:
                ok = await self.open_output(self.settings.output_device)
            if ok:
                return
        self.bus.publish(
            StageStatus(component=component, state="failed",
                        detail="Gave up reopening the device; pick one in the Audio panel.")
        )
