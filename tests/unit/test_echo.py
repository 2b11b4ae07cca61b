from __future__ import annotations

import numpy as np

from tests.conftest import speak
from voxelle_app.core.audio.echo import EchoGuard
from voxelle_app.core.audio.resample import resample


def test_the_cohosts_own_voice_is_echo_and_the_streamers_is_not(piper) -> None:
    cohost = speak(piper, "I am the co-host and this is my voice coming back.", 48000)
    streamer = speak(piper, "Hey, wait a second, I want to say something.", 16000)
    guard = EchoGuard(48000)  # hears the echo
    other = EchoGuard(48000)  # hears the streamer instead, during the same playback
    block48 = 960
    echo_hits = voice_hits = checked = 0
    mic_echo = resample(cohost, 48000, 16000)
    delay = int(0.12 * 16000)  # the sound takes 120 ms from the speaker to the microphone
    for i in range(0, cohost.size - block48, block48):
        guard.played(cohost[i : i + block48])
        other.played(cohost[i : i + block48])
        j = i // 3 - delay
        if j < 0 or j + 320 > mic_echo.size:
            continue
        echo_block = 0.4 * mic_echo[j : j + 320]  # quieter, as through the air
        if np.sqrt(np.mean(echo_block**2)) < 0.01:
            continue  # a pause between words: nothing to judge
        checked += 1
        echo_hits += guard.is_echo(echo_block)
        k = (i // 3) % max(1, streamer.size - 320)
        voice_hits += other.is_echo(streamer[k : k + 320])
    assert checked > 50
    assert echo_hits / checked > 0.9
    assert voice_hits / checked < 0.1


def test_nothing_played_means_no_echo() -> None:
    guard = EchoGuard(48000)
    assert not guard.is_echo(np.random.default_rng(0).normal(0, 0.1, 320).astype(np.float32))
