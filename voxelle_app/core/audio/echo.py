"""Echo guard: is this microphone block the co-host's own voice coming back?

The playback side hands every block it plays to ``played``; ``is_echo`` compares a
microphone block with the last ``window_s`` of that reference by normalised
cross-correlation over every lag in the window (speaker-to-mic delays up to that long).

Limits, said plainly: this catches the direct echo of speakers into a microphone when the
room and the speakers do not distort it much. It is not acoustic echo cancellation: it
cannot separate the streamer's voice from the co-host's when both sound at once, and a very
reverberant room or heavy processing in between lowers the correlation below the threshold.
Headphones avoid the problem entirely, and the app recommends them.
"""

from __future__ import annotations

import collections
import threading

import numpy as np

RATE = 16000


def _to_16k(block: np.ndarray, rate: int) -> np.ndarray:
    """Cheap rate change for a reference signal (no filter state to keep across blocks)."""
    if rate == RATE:
        return block.astype(np.float32)
    if rate % RATE == 0:
        k = rate // RATE
        n = block.size // k * k
        return block[:n].reshape(-1, k).mean(axis=1).astype(np.float32)
    n = int(round(block.size * RATE / rate))
    return np.interp(np.linspace(0, block.size - 1, n), np.arange(block.size), block).astype(np.float32)


class EchoGuard:
    def __init__(self, playback_rate: int, window_s: float = 0.8, analysis_s: float = 0.2,
                 threshold: float = 0.6) -> None:
        self.window = int(window_s * RATE)
        self.analysis = int(analysis_s * RATE)
        self.threshold = threshold
        self.playback_rate = playback_rate
        self._ref: collections.deque[np.ndarray] = collections.deque()
        self._ref_samples = 0
        self._mic: collections.deque[np.ndarray] = collections.deque()
        self._mic_samples = 0
        self._lock = threading.Lock()
        self.last_score = 0.0

    def played(self, block: np.ndarray) -> None:
        """A block that was just played (audio thread)."""
        small = _to_16k(block, self.playback_rate)
        with self._lock:
            self._ref.append(small)
            self._ref_samples += small.size
            while self._ref and self._ref_samples - self._ref[0].size >= self.window:
                self._ref_samples -= self._ref.popleft().size

    def is_echo(self, mic_block: np.ndarray) -> bool:
        """Judges the last ``analysis_s`` of microphone audio, this block included.

        A 20 ms block of voiced speech alone is nearly periodic and correlates with any
        voice of similar pitch; 200 ms spans several phonemes and only matches its own echo.
        """
        self._mic.append(mic_block)
        self._mic_samples += mic_block.size
        while self._mic_samples - self._mic[0].size >= self.analysis:
            self._mic_samples -= self._mic.popleft().size
        with self._lock:
            ref = np.concatenate(list(self._ref)) if self._ref else np.zeros(0, np.float32)
        if ref.size < self.analysis or float(np.max(np.abs(ref))) < 1e-3:
            self.last_score = 0.0
            return False  # nothing was played lately: whatever the mic hears is not us
        mic = np.concatenate(list(self._mic))[-self.analysis:].astype(np.float64)
        n = mic.size
        mic_energy = float(np.dot(mic, mic))
        if mic_energy < 1e-8 or ref.size < n:
            self.last_score = 0.0
            return False
        size = 1 << int(np.ceil(np.log2(ref.size + n)))
        corr = np.fft.irfft(np.fft.rfft(ref, size) * np.conj(np.fft.rfft(mic, size)), size)
        corr = corr[: ref.size - n + 1]  # lags where the mic window fits inside the reference
        sq = np.concatenate([[0.0], np.cumsum(ref.astype(np.float64) ** 2)])
        ref_energy = sq[n:] - sq[:-n]
        score = np.abs(corr) / np.sqrt(np.maximum(ref_energy, 1e-12) * mic_energy)
        self.last_score = float(np.max(score))
        return self.last_score >= self.threshold
