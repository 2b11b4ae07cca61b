"""Each effect changes real audio measurably; pitch shift moves the fundamental as expected."""

from __future__ import annotations

import numpy as np
import pytest

from voxelle_app.core.errors import ValidationError
from voxelle_app.core.operations.filter_audio.effects import EFFECTS, EffectChain
from voxelle_app.core.settings import EffectSpec, Settings

RATE = 22050


def harmonic_tone(f0: float, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    x = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))
    return (0.3 * x / np.max(np.abs(x))).astype(np.float32)


def fundamental(x: np.ndarray, lo: float = 60.0, hi: float = 500.0) -> float:
    """F0 by autocorrelation over the middle of the signal."""
    seg = x[x.size // 4 : 3 * x.size // 4]
    seg = seg - seg.mean()
    ac = np.correlate(seg, seg, mode="full")[seg.size - 1 :]
    lags = np.arange(int(RATE / hi), int(RATE / lo))
    return RATE / float(lags[np.argmax(ac[lags])])


@pytest.mark.parametrize("semitones", [-4.0, 5.0, 12.0])
def test_pitch_shift_moves_f0_by_the_expected_ratio(semitones: float) -> None:
    x = harmonic_tone(150.0)
    chain = EffectChain([EffectSpec(kind="pitch_shift", params={"semitones": semitones})])
    y = chain.process(x, RATE)
    expected = 2 ** (semitones / 12)
    ratio = fundamental(y) / fundamental(x)
    assert abs(ratio / expected - 1) < 0.03, (ratio, expected)
    assert y.size == x.size  # latency compensated: same length, aligned


def spectrum_distance(a: np.ndarray, b: np.ndarray) -> float:
    n = min(a.size, b.size)
    fa, fb = np.abs(np.fft.rfft(a[:n])), np.abs(np.fft.rfft(b[:n]))
    return float(np.linalg.norm(fa - fb) / (np.linalg.norm(fa) + 1e-9))


@pytest.mark.parametrize("kind", sorted(EFFECTS))
def test_every_effect_changes_speech_like_audio(kind: str, piper) -> None:
    from tests.conftest import speak

    x = speak(piper, "Testing the voice effects, one two three.", RATE)
    params = {p.name: p.default for p in EFFECTS[kind].params}
    strong = {"gain": {"gain_db": -12.0}, "pitch_shift": {"semitones": 4.0},
              "peak_eq": {"gain_db": 12.0}, "compressor": {"threshold_db": -30.0, "ratio": 8.0},
              "bitcrush": {"bit_depth": 4.0}, "limiter": {"threshold_db": -20.0}}
    params.update(strong.get(kind, {}))
    y = EffectChain([EffectSpec(kind=kind, params=params)]).process(x, RATE)
    assert np.isfinite(y).all() and np.max(np.abs(y)) <= 1.0
    assert spectrum_distance(x, y) > 0.05, kind


def test_filters_cut_what_they_should() -> None:
    t = np.arange(RATE) / RATE
    low, high = np.sin(2 * np.pi * 100 * t), np.sin(2 * np.pi * 6000 * t)
    x = (0.3 * (low + high)).astype(np.float32)
    hp = EffectChain([EffectSpec(kind="highpass", params={"cutoff_frequency_hz": 1500})]).process(x, RATE)
    lp = EffectChain([EffectSpec(kind="lowpass", params={"cutoff_frequency_hz": 1500})]).process(x, RATE)

    def band(y: np.ndarray, f: float) -> float:
        spec = np.abs(np.fft.rfft(y))
        return float(spec[int(f)])  # 1 Hz bins for one second of audio

    assert band(hp, 100) < 0.1 * band(x, 100) and band(hp, 6000) > 0.7 * band(x, 6000)
    # pedalboard's low-pass is one pole (6 dB per octave): two octaves up is about -12 dB
    assert band(lp, 6000) < 0.3 * band(x, 6000) and band(lp, 100) > 0.7 * band(x, 100)


def test_reverb_keeps_its_tail_and_disabled_effects_do_nothing() -> None:
    x = harmonic_tone(200, 0.5)
    reverb = EffectSpec(kind="reverb", params={"room_size": 0.9, "wet_level": 0.6})
    wet = EffectChain([reverb]).process(x, RATE)
    assert wet.size > x.size
    off = EffectChain([EffectSpec(kind="reverb", enabled=False)]).process(x, RATE)
    assert np.array_equal(off, x)


def test_default_presets_build() -> None:
    x = harmonic_tone(180, 0.3)
    for name, specs in Settings().effects.presets.items():
        y = EffectChain(specs).process(x, RATE)
        assert y.size >= x.size and np.isfinite(y).all() and np.max(np.abs(y)) <= 1.0, name


def test_bad_specs_are_clear_errors() -> None:
    with pytest.raises(ValidationError, match="Unknown effect"):
        EffectChain([EffectSpec(kind="flanger9000")])
    with pytest.raises(ValidationError, match="between -12 and 12"):
        EffectChain([EffectSpec(kind="pitch_shift", params={"semitones": 40})])
    with pytest.raises(ValidationError, match="no setting"):
        EffectChain([EffectSpec(kind="gain", params={"volume": 1})])
