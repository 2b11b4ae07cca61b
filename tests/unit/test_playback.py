"""Playback queue: tags, flushing within one block, and a real loop through the null sink."""

from __future__ import annotations

import queue
import re
import time

import numpy as np
import pytest

from tests.conftest import speak
from voxelle_app.core.audio.capture import AudioCapture
from voxelle_app.core.audio.playback import DeviceOutput, PlaybackHooks, PlaybackQueue, VirtualOutput
from voxelle_app.core.audio.resample import resample

BLOCK = 960  # 20 ms at 48 kHz


def test_tags_start_and_finish_in_order() -> None:
    started, done = [], []
    q = PlaybackQueue(48000, PlaybackHooks(on_tag_start=started.append, on_tag_done=done.append))
    q.enqueue(np.ones(1500, np.float32), tag=(1, 0))
    q.enqueue(np.ones(500, np.float32), tag=(1, 0), last=True)
    q.enqueue(np.ones(100, np.float32), tag=(1, 1), last=True)
    blocks = [q.pull(BLOCK) for _ in range(3)]
    assert started == [(1, 0), (1, 1)] and done == [(1, 0), (1, 1)]
    assert sum(int(np.count_nonzero(b)) for b in blocks) == 2100


def test_flush_silences_the_very_next_block() -> None:
    q = PlaybackQueue(48000)
    for i in range(10):
        q.enqueue(np.full(4800, 0.5, np.float32), tag=(1, i), last=True)
    assert np.all(q.pull(BLOCK) == 0.5)
    dropped = q.flush()
    assert dropped == [(1, i) for i in range(10)]
    assert not q.busy
    assert np.all(q.pull(BLOCK) == 0.0)  # within one audio block


def test_virtual_output_keeps_real_time_pace() -> None:
    q = PlaybackQueue(16000)
    out = VirtualOutput(q, block_ms=20)
    q.enqueue(np.full(8000, 0.25, np.float32))  # half a second
    out.start()
    time.sleep(0.1)
    assert q.busy  # still playing after 0.1 s: paced like a sound card
    deadline = time.monotonic() + 5
    while q.busy and time.monotonic() < deadline:
        time.sleep(0.01)
    out.stop()
    played = out.recording()
    assert np.count_nonzero(played == 0.25) == 8000


@pytest.mark.audio
@pytest.mark.models
def test_voice_played_into_the_sink_comes_back_through_its_monitor(pulse: None, piper, whisper) -> None:
    sentence = "The quick brown fox jumps over the lazy dog."
    voice = speak(piper, sentence, 48000)
    captured: queue.Queue[np.ndarray] = queue.Queue()
    capture = AudioCapture("", captured.put, rate=16000)
    q = PlaybackQueue(48000)
    output = DeviceOutput(q)
    capture.start()
    output.start()
    try:
        time.sleep(0.3)
        while not captured.empty():
            captured.get()
        q.enqueue(voice, tag="s", last=True)
        time.sleep(voice.size / 48000 + 1.0)
        # Interrupt a second copy half-way: what comes back goes quiet within a few blocks.
        q.enqueue(voice, tag="t", last=True)
        time.sleep(0.8)
        q.flush()
        time.sleep(0.8)
    finally:
        output.stop()
        capture.stop()
    audio = np.concatenate(list(captured.queue))
    text = whisper.transcribe(audio[: int(16000 * (voice.size / 48000 + 1.0))]).text.lower()
    heard = set(re.findall(r"[a-z]+", text))
    assert len(heard & {"quick", "brown", "fox", "jumps", "lazy", "dog"}) >= 5, text
    tail = audio[-int(0.3 * 16000):]
    assert np.sqrt(np.mean(tail**2)) < 1e-3, "audio kept playing after the flush"


def test_resample_preserves_a_tone() -> None:
    t = np.arange(22050) / 22050
    x = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    y = resample(x, 22050, 48000)
    assert abs(y.size - 48000) <= 1
    f = np.fft.rfftfreq(y.size, 1 / 48000)[np.argmax(np.abs(np.fft.rfft(y)))]
    assert abs(f - 440) < 2
