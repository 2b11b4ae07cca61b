"""The ears: real speech fed block by block becomes SpeechStarted, SpeechEnded, TranscriptFinal."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from tests.conftest import Recorder, speak
from voxelle_app.core.bus import EventBus
from voxelle_app.core.events import SpeechEnded, SpeechStarted, StageStatus, TranscriptFinal
from voxelle_app.core.hearing import Hearing
from voxelle_app.core.settings import Settings

pytestmark = pytest.mark.models


def feed_in_thread(hearing: Hearing, audio: np.ndarray) -> threading.Thread:
    def run() -> None:
        for i in range(0, audio.size, 320):
            hearing.feed(audio[i : i + 320])

    t = threading.Thread(target=run)
    t.start()
    return t


def padded(piper, text: str) -> np.ndarray:
    silence = np.zeros(16000, np.float32)
    return np.concatenate([silence, speak(piper, text), silence, silence])


async def test_voice_mode_transcribes_an_utterance(bus: EventBus, recorder: Recorder, piper) -> None:
    hearing = Hearing(Settings(), bus)
    assert await hearing.load()
    assert recorder.of(StageStatus)[-1].state == "ready"
    feed_in_thread(hearing, padded(piper, "Can you say hello to the chat?")).join()
    final = await recorder.wait_for(TranscriptFinal, timeout=30)
    heard = set(final.text.lower().replace("?", "").replace(",", "").split())
    assert len(heard & {"can", "you", "say", "hello", "to", "the", "chat"}) >= 6, final.text
    assert final.stt_seconds > 0 and final.audio_seconds > 1
    kinds = [type(e) for e in recorder.events if isinstance(e, SpeechStarted | SpeechEnded | TranscriptFinal)]
    assert kinds == [SpeechStarted, SpeechEnded, TranscriptFinal]
    await hearing.stop()


async def test_muted_hears_nothing_and_push_to_talk_takes_what_was_held(
    bus: EventBus, recorder: Recorder, piper
) -> None:
    settings = Settings()
    settings.audio.listen_mode = "muted"
    hearing = Hearing(settings, bus)
    assert await hearing.load()
    feed_in_thread(hearing, padded(piper, "Nobody should hear this.")).join()
    await asyncio.sleep(0.5)
    assert recorder.of(SpeechStarted) == [] and recorder.of(TranscriptFinal) == []

    settings.audio.listen_mode = "push_to_talk"
    hearing.push_to_talk(True)
    feed_in_thread(hearing, speak(piper, "Push to talk works fine.")).join()
    hearing.push_to_talk(False)
    final = await recorder.wait_for(TranscriptFinal, timeout=30)
    # piper's voice varies a little from run to run (noise in its generator): ask for most
    # of the words, not every one
    heard = set(final.text.lower().replace(".", "").split())
    assert len(heard & {"push", "to", "talk", "works", "fine"}) >= 4, final.text
    await hearing.stop()


async def test_recent_audio_is_the_last_five_seconds(bus: EventBus, piper) -> None:
    settings = Settings()
    settings.audio.listen_mode = "muted"
    hearing = Hearing(settings, bus)
    assert await hearing.load()
    feed_in_thread(hearing, np.zeros(16000 * 3, np.float32)).join()
    feed_in_thread(hearing, speak(piper, "Testing the microphone, one two three.")).join()
    assert hearing.recent_audio().size <= 5 * 16000
    result = await hearing.transcribe_recent()
    heard = set(result.text.lower().replace(",", "").replace(".", "").split())
    assert len(heard & {"testing", "the", "microphone", "one", "two", "three", "1", "2", "3"}) >= 4
    await hearing.stop()


async def test_a_missing_model_folder_is_reported_not_raised(
    bus: EventBus, recorder: Recorder, tmp_path
) -> None:
    settings = Settings()
    settings.stt.model = str(tmp_path / "nowhere")
    hearing = Hearing(settings, bus)
    assert not await hearing.load()
    status = recorder.of(StageStatus)[-1]
    assert status.state == "failed" and "does not exist" in status.detail
    await hearing.stop()
