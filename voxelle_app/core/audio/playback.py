"""Playback from a queue that can be flushed within one audio block.

The same ``PlaybackQueue`` feeds a real device (``DeviceOutput``, PortAudio pulls blocks
in its callback) or a ``VirtualOutput`` (a thread pulls blocks paced like a sound card, or
as fast as it can, and keeps what it played: headless runs and tests). Chunks carry a tag
(turn, sentence); the queue reports when a tag's first sample is played and when its last
one is, so the director knows what was really spoken. ``on_block`` receives each block as
it is played, with the delay until it is audible: lip sync follows what is heard.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from voxelle_app.core.audio.devices import DeviceInfo, resolve_device, sounddevice_module
from voxelle_app.core.errors import ConfigurationError

_log = logging.getLogger("voxelle.audio.playback")


@dataclass
class PlaybackHooks:
    """Called from the audio thread: keep them quick and thread-safe."""

    on_tag_start: Callable[[Any], None] = lambda tag: None
    on_tag_done: Callable[[Any], None] = lambda tag: None
    on_block: Callable[[np.ndarray, float], None] = lambda block, delay: None
    on_idle: Callable[[], None] = lambda: None


@dataclass
class _Chunk:
    audio: np.ndarray
    tag: Any
    last: bool
    pos: int = 0


@dataclass
class PlaybackQueue:
    rate: int
    hooks: PlaybackHooks = field(default_factory=PlaybackHooks)

    def __post_init__(self) -> None:
        #: silence the device but keep timing and hooks (voice sent only to Discord)
        self.muted = False
        self._chunks: collections.deque[_Chunk] = collections.deque()
        self._lock = threading.Lock()
        self._current_tag: Any = None
        self._busy = False

    def enqueue(self, audio: np.ndarray, tag: Any = None, last: bool = False) -> None:
        audio = np.ascontiguousarray(audio, dtype=np.float32).reshape(-1)
        with self._lock:
            self._chunks.append(_Chunk(audio, tag, last))

    def flush(self) -> list[Any]:
        """Drop everything not yet played; the next block is silence. Returns dropped tags."""
        with self._lock:
            tags = [c.tag for c in self._chunks]
            self._chunks.clear()
            self._current_tag = None
        return list(dict.fromkeys(t for t in tags if t is not None))

    @property
    def queued_seconds(self) -> float:
        with self._lock:
            return sum(c.audio.size - c.pos for c in self._chunks) / self.rate

    @property
    def busy(self) -> bool:
        with self._lock:
            return bool(self._chunks)

    def wait_until_drained(self, timeout: float) -> bool:
        """Blocking (call it from a worker thread): until everything queued was played."""
        deadline = time.monotonic() + timeout
        while self.busy and time.monotonic() < deadline:
            time.sleep(0.02)
        return not self.busy

    def pull(self, frames: int, delay: float = 0.0) -> np.ndarray:
        """The next ``frames`` samples (zero-padded), firing the hooks for what they hold."""
        out = np.zeros(frames, dtype=np.float32)
        started: list[Any] = []
        done: list[Any] = []
        filled = 0
        with self._lock:
            while filled < frames and self._chunks:
                chunk = self._chunks[0]
                if chunk.pos == 0 and chunk.tag is not None and chunk.tag != self._current_tag:
                    self._current_tag = chunk.tag
                    started.append(chunk.tag)
                n = min(frames - filled, chunk.audio.size - chunk.pos)
                out[filled : filled + n] = chunk.audio[chunk.pos : chunk.pos + n]
                chunk.pos += n
                filled += n
                if chunk.pos >= chunk.audio.size:
                    self._chunks.popleft()
                    if chunk.last and chunk.tag is not None:
                        done.append(chunk.tag)
                        self._current_tag = None
            now_busy = filled > 0
            went_idle = self._busy and not self._chunks and not now_busy
            self._busy = bool(self._chunks) or now_busy
        for tag in started:
            self.hooks.on_tag_start(tag)
        self.hooks.on_block(out, delay)
        for tag in done:
            self.hooks.on_tag_done(tag)
        if went_idle:
            self.hooks.on_idle()
        return np.zeros_like(out) if self.muted else out


class DeviceOutput:
    """A sounddevice output stream pulling from a ``PlaybackQueue``."""

    def __init__(
        self,
        queue: PlaybackQueue,
        device: str = "",
        block_ms: int = 20,
        latency: str = "high",
        on_stopped: Callable[[str], None] | None = None,
    ) -> None:
        self.queue = queue
        self.device_name = device
        self.block_ms = block_ms
        self.latency = latency
        self.on_stopped = on_stopped
        self.device: DeviceInfo | None = None
        self._stream: Any = None
        self._closing = threading.Event()

    @property
    def rate(self) -> int:
        return self.queue.rate

    def start(self) -> DeviceInfo:
        """Open and start (blocking: call it from a worker thread)."""
        sd = sounddevice_module()
        device = resolve_device(self.device_name, "output")
        self._closing.clear()
        try:
            stream = sd.OutputStream(
                device=device.index,
                samplerate=self.queue.rate,
                channels=1,
                dtype="float32",
                blocksize=int(self.queue.rate * self.block_ms / 1000),
                latency=self.latency,
                callback=self._callback,
                finished_callback=self._finished,
            )
            stream.start()
        except Exception as exc:
            raise ConfigurationError(
                f"Could not open the output {device.label} ({exc}).",
                hint="Pick another output device in the Audio panel.",
                component="audio",
            ) from None
        self._stream = stream
        self.device = device
        return device

    def stop(self) -> None:
        self._closing.set()
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception as exc:
                _log.debug("closing output stream: %s", exc)

    def _callback(self, outdata: np.ndarray, frames: int, t: Any, status: Any) -> None:
        try:
            delay = max(0.0, float(t.outputBufferDacTime - t.currentTime))
        except Exception:
            delay = 0.0
        outdata[:, 0] = self.queue.pull(frames, delay)

    def _finished(self) -> None:
        if not self._closing.is_set() and self.on_stopped is not None:
            name = self.device.label if self.device else "output"
            self.on_stopped(f"The output {name} stopped (unplugged or taken by another app).")


class VirtualOutput:
    """A sound card without hardware: pulls blocks in real time (or ``fast``) and keeps them."""

    def __init__(self, queue: PlaybackQueue, block_ms: int = 20, fast: bool = False) -> None:
        self.queue = queue
        self.block = int(queue.rate * block_ms / 1000)
        self.fast = fast
        self.played: list[np.ndarray] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def rate(self) -> int:
        return self.queue.rate

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="voxelle-virtual-out", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    def recording(self) -> np.ndarray:
        return np.concatenate(self.played) if self.played else np.zeros(0, dtype=np.float32)

    def _run(self) -> None:
        period = self.block / self.queue.rate
        next_deadline = time.monotonic()
        while not self._stop.is_set():
            if self.fast and not self.queue.busy:
                # Nothing to play: time does not matter, so do not record silence either.
                self._stop.wait(0.002)
                continue
            block = self.queue.pull(self.block)
            self.played.append(block)
            if not self.fast:
                next_deadline += period
                wait = next_deadline - time.monotonic()
                if wait > 0:
                    self._stop.wait(wait)
                else:
                    next_deadline = time.monotonic()
