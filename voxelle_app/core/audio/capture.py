"""Microphone capture: mono float32 blocks at the rate the models want.

``on_block`` runs in PortAudio's thread: it must be quick and must not touch Qt or the
loop directly (put the block in a queue, or ``call_soon_threadsafe``). A device that
cannot run at the wanted rate is opened at its own rate and resampled.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from voxelle_app.core.audio.devices import DeviceInfo, resolve_device, sounddevice_module
from voxelle_app.core.audio.resample import StreamResampler, to_mono_float32
from voxelle_app.core.errors import ConfigurationError

_log = logging.getLogger("voxelle.audio.capture")


class AudioCapture:
    def __init__(
        self,
        device: str,
        on_block: Callable[[np.ndarray], None],
        rate: int = 16000,
        block_ms: int = 20,
        latency: str = "high",
        on_stopped: Callable[[str], None] | None = None,
    ) -> None:
        self.device_name = device
        self.on_block = on_block
        self.rate = rate
        self.block_ms = block_ms
        self.latency = latency
        self.on_stopped = on_stopped
        self.device: DeviceInfo | None = None
        self._stream: Any = None
        self._resampler: StreamResampler | None = None
        self._closing = threading.Event()

    @property
    def running(self) -> bool:
        return self._stream is not None and bool(self._stream.active)

    def start(self) -> DeviceInfo:
        """Open and start the stream (blocking: call it from a worker thread)."""
        sd = sounddevice_module()
        device = resolve_device(self.device_name, "input")
        self._closing.clear()
        last_error: Exception | None = None
        for rate in (self.rate, int(device.default_samplerate)):
            try:
                stream = sd.InputStream(
                    device=device.index,
                    samplerate=rate,
                    channels=1,
                    dtype="float32",
                    blocksize=int(rate * self.block_ms / 1000),
                    latency=self.latency,
                    callback=self._callback,
                    finished_callback=self._finished,
                )
                self._resampler = StreamResampler(rate, self.rate) if rate != self.rate else None
                stream.start()
            except Exception as exc:  # PortAudioError, or a device that is gone
                last_error = exc
                continue
            self._stream = stream
            self.device = device
            if device.name != self.device_name and self.device_name:
                _log.warning("input device %r not found; using %r", self.device_name, device.name)
            return device
        raise ConfigurationError(
            f"Could not open the microphone {device.label} ({last_error}).",
            hint="Pick another input device in the Audio panel.",
            component="audio",
        )

    def stop(self) -> None:
        self._closing.set()
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception as exc:  # a vanished device may fail to close; it is gone anyway
                _log.debug("closing input stream: %s", exc)

    def _callback(self, indata: np.ndarray, frames: int, time: Any, status: Any) -> None:
        block = to_mono_float32(indata)
        if self._resampler is not None:
            block = self._resampler.process(block)
        if block.size:
            self.on_block(block.copy())

    def _finished(self) -> None:
        if not self._closing.is_set() and self.on_stopped is not None:
            name = self.device.label if self.device else "microphone"
            self.on_stopped(f"The microphone {name} stopped (unplugged or taken by another app).")


def block_level(block: np.ndarray) -> tuple[float, float]:
    """RMS and peak of a block, 0..1."""
    if block.size == 0:
        return 0.0, 0.0
    return float(np.sqrt(np.mean(np.square(block, dtype=np.float64)))), float(np.max(np.abs(block)))
