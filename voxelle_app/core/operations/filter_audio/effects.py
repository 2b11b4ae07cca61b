"""An editable pedalboard effect chain for the co-host's voice.

Streaming choice: each chunk from TTS (a sentence, or a clause of a long one) is processed
whole with ``reset=True``. pedalboard then compensates every plugin's latency itself, so
PitchShift, which holds back about a second in streaming mode, adds only its compute time
(a real-time factor near 0.013 here) instead of a second of delay. Reverb and delay tails
are kept by padding each chunk with a short tail that is trimmed when it is silent.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from voxelle_app.core.errors import AudioFilterError, ValidationError
from voxelle_app.core.settings import EffectSpec


@dataclass(frozen=True)
class Param:
    name: str
    default: float
    low: float
    high: float
    label: str


@dataclass(frozen=True)
class EffectType:
    kind: str
    title: str
    plugin: str  # pedalboard class name
    params: tuple[Param, ...]
    tail_s: float = 0.0  # how long it rings after the input stops


EFFECTS: dict[str, EffectType] = {
    e.kind: e
    for e in (
        EffectType("gain", "Gain", "Gain", (Param("gain_db", 0.0, -24, 24, "Gain (dB)"),)),
        EffectType("pitch_shift", "Pitch shift", "PitchShift",
                   (Param("semitones", 0.0, -12, 12, "Semitones"),)),
        EffectType("reverb", "Reverb", "Reverb", (
            Param("room_size", 0.5, 0, 1, "Room size"),
            Param("damping", 0.5, 0, 1, "Damping"),
            Param("wet_level", 0.33, 0, 1, "Wet"),
            Param("dry_level", 0.4, 0, 1, "Dry"),
        ), tail_s=1.0),
        EffectType("chorus", "Chorus", "Chorus", (
            Param("rate_hz", 1.0, 0.01, 100, "Rate (Hz)"),
            Param("depth", 0.25, 0, 1, "Depth"),
            Param("centre_delay_ms", 7.0, 1, 50, "Delay (ms)"),
            Param("feedback", 0.0, -0.95, 0.95, "Feedback"),
            Param("mix", 0.5, 0, 1, "Mix"),
        )),
        EffectType("distortion", "Distortion", "Distortion",
                   (Param("drive_db", 25.0, 0, 60, "Drive (dB)"),)),
        EffectType("highpass", "High-pass filter", "HighpassFilter",
                   (Param("cutoff_frequency_hz", 200.0, 20, 5000, "Cutoff (Hz)"),)),
        EffectType("lowpass", "Low-pass filter", "LowpassFilter",
                   (Param("cutoff_frequency_hz", 4000.0, 200, 11000, "Cutoff (Hz)"),)),
        EffectType("peak_eq", "EQ band", "PeakFilter", (
            Param("cutoff_frequency_hz", 1000.0, 20, 11000, "Frequency (Hz)"),
            Param("gain_db", 0.0, -24, 24, "Gain (dB)"),
            Param("q", 0.7, 0.1, 10, "Q"),
        )),
        EffectType("compressor", "Compressor", "Compressor", (
            Param("threshold_db", -18.0, -60, 0, "Threshold (dB)"),
            Param("ratio", 3.0, 1, 20, "Ratio"),
            Param("attack_ms", 2.0, 0.1, 100, "Attack (ms)"),
            Param("release_ms", 100.0, 5, 1000, "Release (ms)"),
        )),
        EffectType("bitcrush", "Bitcrush", "Bitcrush", (Param("bit_depth", 8.0, 2, 16, "Bits"),)),
        EffectType("delay", "Echo", "Delay", (
            Param("delay_seconds", 0.25, 0.01, 2, "Delay (s)"),
            Param("feedback", 0.3, 0, 0.95, "Feedback"),
            Param("mix", 0.3, 0, 1, "Mix"),
        ), tail_s=1.5),
        EffectType("phaser", "Phaser", "Phaser", (
            Param("rate_hz", 1.0, 0.01, 20, "Rate (Hz)"),
            Param("depth", 0.5, 0, 1, "Depth"),
            Param("mix", 0.5, 0, 1, "Mix"),
        )),
        EffectType("limiter", "Limiter", "Limiter", (
            Param("threshold_db", -3.0, -30, 0, "Threshold (dB)"),
            Param("release_ms", 100.0, 5, 1000, "Release (ms)"),
        )),
    )
}


def validate_spec(spec: EffectSpec) -> None:
    etype = EFFECTS.get(spec.kind)
    if etype is None:
        raise ValidationError(
            f"Unknown effect {spec.kind!r}; known effects: {', '.join(sorted(EFFECTS))}.",
            component="effects",
        )
    known = {p.name: p for p in etype.params}
    for name, value in spec.params.items():
        p = known.get(name)
        if p is None:
            raise ValidationError(
                f"{etype.title} has no setting {name!r} (it has {', '.join(known)}).",
                component="effects",
            )
        if not p.low <= value <= p.high:
            raise ValidationError(
                f"{etype.title} {p.label} must be between {p.low:g} and {p.high:g}, not {value:g}.",
                component="effects",
            )


class EffectChain:
    """A pedalboard built from ``EffectSpec``s; thread-safe to swap while in use."""

    def __init__(self, specs: list[EffectSpec] | None = None) -> None:
        self._lock = threading.Lock()
        self._board: Any = None
        self._tail_s = 0.0
        self.specs: list[EffectSpec] = []
        self.set_specs(specs or [])

    def set_specs(self, specs: list[EffectSpec]) -> None:
        import pedalboard

        for spec in specs:
            validate_spec(spec)
        active = [s for s in specs if s.enabled]
        plugins = []
        for spec in active:
            etype = EFFECTS[spec.kind]
            params = {p.name: spec.params.get(p.name, p.default) for p in etype.params}
            if spec.kind == "bitcrush":
                params["bit_depth"] = float(round(params["bit_depth"]))
            plugins.append(getattr(pedalboard, etype.plugin)(**params))
        with self._lock:
            self.specs = list(specs)
            self._board = pedalboard.Pedalboard(plugins) if plugins else None
            self._tail_s = max((EFFECTS[s.kind].tail_s for s in active), default=0.0)

    @property
    def empty(self) -> bool:
        return self._board is None

    def process(self, audio: np.ndarray, rate: int) -> np.ndarray:
        """Process one whole chunk (sentence or clause); returns mono float32."""
        with self._lock:
            board, tail_s = self._board, self._tail_s
        if board is None or audio.size == 0:
            return audio
        x = audio.astype(np.float32)
        if tail_s:
            x = np.concatenate([x, np.zeros(int(tail_s * rate), dtype=np.float32)])
        try:
            y = board(x[None, :], rate, reset=True)[0]
        except Exception as exc:
            raise AudioFilterError(f"The voice effects failed ({exc}).") from None
        if tail_s:
            y = _trim_silent_tail(y, audio.size, rate)
        peak = float(np.max(np.abs(y))) if y.size else 0.0
        if peak > 1.0:  # distortion and gain can clip; keep the voice clean
            y = y / peak
        return np.ascontiguousarray(y, dtype=np.float32)


def _trim_silent_tail(y: np.ndarray, keep: int, rate: int, floor: float = 1e-3) -> np.ndarray:
    tail = y[keep:]
    loud = np.flatnonzero(np.abs(tail) > floor)
    end = keep + (int(loud[-1]) + 1 if loud.size else 0)
    fade = min(int(0.02 * rate), end - keep)
    out = y[:end].copy()
    if fade > 0:
        out[end - fade :] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    return out
