"""Sample-rate conversion between model rates and device rates (soxr, high quality)."""

from __future__ import annotations

import numpy as np
import soxr


def to_mono_float32(block: np.ndarray) -> np.ndarray:
    data = np.asarray(block)
    if data.dtype == np.int16:
        data = data.astype(np.float32) / 32768.0
    elif data.dtype != np.float32:
        data = data.astype(np.float32)
    if data.ndim == 2:
        data = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    return np.ascontiguousarray(data, dtype=np.float32)


def resample(audio: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Resample a whole mono float32 buffer."""
    audio = to_mono_float32(audio)
    if src_rate == dst_rate or audio.size == 0:
        return audio
    return np.asarray(soxr.resample(audio, src_rate, dst_rate), dtype=np.float32)


class StreamResampler:
    """Resamples a stream block by block, keeping filter state between blocks."""

    def __init__(self, src_rate: int, dst_rate: int) -> None:
        self.src_rate = src_rate
        self.dst_rate = dst_rate
        self._stream = (
            None if src_rate == dst_rate else soxr.ResampleStream(src_rate, dst_rate, 1, "float32")
        )

    def process(self, block: np.ndarray, last: bool = False) -> np.ndarray:
        block = to_mono_float32(block)
        if self._stream is None:
            return block
        return np.asarray(self._stream.resample_chunk(block, last=last), dtype=np.float32)


def int16_to_float(data: bytes | np.ndarray) -> np.ndarray:
    arr = np.frombuffer(data, dtype=np.int16) if isinstance(data, bytes) else data
    return arr.astype(np.float32) / 32768.0


def float_to_int16(audio: np.ndarray) -> np.ndarray:
    return (np.clip(audio, -1.0, 1.0) * 32767.0).astype(np.int16)
