"""Speech on the real default models: piper's voice understood by Whisper, VAD on real speech."""

from __future__ import annotations

import re

import jiwer
import numpy as np
import pytest

from tests.conftest import speak
from voxelle_app.core.audio.vad import RATE, Endpointer, SileroVAD, Utterance, VADConfig

pytestmark = pytest.mark.models

SENTENCES = [
    "Welcome back to the stream, everyone.",
    "Thanks for the follow, it really means a lot.",
    "We are going to try the hardest level tonight.",
    "Chat, should I pick the sword or the bow?",
    "That boss fight took us almost an hour.",
    "Remember to stay hydrated and take breaks.",
    "The weather outside is cold and rainy today.",
    "I think we should explore the castle first.",
    "Our goal is to finish the game before midnight.",
    "Thank you so much for the raid, friends.",
    "Let me check the map before we move on.",
    "Good night, and see you all tomorrow.",
]


def words(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split())


def test_tts_then_stt_gives_the_words_back(piper, whisper) -> None:
    refs, hyps = [], []
    for sentence in SENTENCES:
        audio = speak(piper, sentence)
        result = whisper.transcribe(audio)
        refs.append(words(sentence))
        hyps.append(words(result.text))
    wer = jiwer.wer(refs, hyps)
    print(f"WER over {len(SENTENCES)} sentences: {wer:.3f}")
    assert wer <= 0.10, list(zip(refs, hyps, strict=True))


def test_piper_streams_long_sentences_in_pieces(piper) -> None:
    chunks = list(piper.synthesize(
        "When the raid arrives, we will greet everyone by name, thank them for coming, "
        "and then show them the secret level we found last week."
    ))
    assert len(chunks) >= 2
    assert all(c.dtype == np.float32 and c.ndim == 1 and c.size > 1000 for c in chunks)


def speech_bounds(audio: np.ndarray, floor_db: float = -35.0) -> tuple[int, int]:
    """First and last 10 ms frame whose level is within 35 dB of the loudest frame."""
    frame = RATE // 100
    n = audio.size // frame
    levels = 20 * np.log10(np.sqrt(np.mean(audio[: n * frame].reshape(n, frame) ** 2, axis=1)) + 1e-9)
    loud = np.flatnonzero(levels > levels.max() + floor_db)
    return int(loud[0]) * frame, int(loud[-1] + 1) * frame


def test_vad_finds_speech_in_silence_and_noise(piper) -> None:
    rng = np.random.default_rng(7)
    pieces = [np.zeros(int(1.5 * RATE), np.float32)]
    truth = []
    offset = pieces[0].size
    for sentence in ("Hello there, how is everyone doing tonight?", "Let's get started with the game."):
        audio = speak(piper, sentence)
        start, end = speech_bounds(audio)
        truth.append((offset + start, offset + end))
        pieces += [audio, np.zeros(int(2.0 * RATE), np.float32)]
        offset += audio.size + int(2.0 * RATE)
    signal = np.concatenate(pieces)
    signal = signal + rng.normal(0, 0.003, signal.size).astype(np.float32)  # a quiet room
    endpointer = Endpointer(SileroVAD(), VADConfig(threshold=0.5, min_speech_ms=100,
                                                    end_silence_ms=500, preroll_ms=300))
    found: list[Utterance] = []
    for i in range(0, signal.size, 320):  # 20 ms blocks, as the microphone delivers them
        found += [e for e in endpointer.feed(signal[i : i + 320]) if isinstance(e, Utterance)]
    assert len(found) == 2
    for utt, (t_start, t_end) in zip(found, truth, strict=True):
        assert abs(utt.onset_sample - t_start) / RATE <= 0.100, (utt.onset_sample, t_start)
        assert abs(utt.offset_sample - t_end) / RATE <= 0.100, (utt.offset_sample, t_end)
        # the pre-roll keeps the first syllable: the cut starts before the onset
        assert utt.audio.size / RATE >= (t_end - t_start) / RATE


def test_vad_ignores_noise_without_speech() -> None:
    rng = np.random.default_rng(3)
    endpointer = Endpointer(SileroVAD(), VADConfig())
    noise = rng.normal(0, 0.02, 5 * RATE).astype(np.float32)
    events = [e for i in range(0, noise.size, 320) for e in endpointer.feed(noise[i : i + 320])]
    assert events == []
