"""The director's logic with scripted stages: event order, overlap, interruption, safety."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import Recorder
from tests.fakes.stages import ScriptedLLM, ScriptedTTS
from voxelle_app.core.audio.playback import PlaybackQueue, VirtualOutput
from voxelle_app.core.bus import EventBus
from voxelle_app.core.events import (
    AgentStateChanged,
    Interrupt,
    MoodChanged,
    MouthLevel,
    ReplyFinished,
    ReplySentence,
    ReplyStarted,
    ReplyToken,
    SentenceBlocked,
    SpeechAudioStarted,
    SpeechStarted,
    TurnTimings,
)
from voxelle_app.core.llm import LanguageModel
from voxelle_app.core.pipeline import Director
from voxelle_app.core.prompter.persona import PersonaStore
from voxelle_app.core.prompter.prompt import Prompter
from voxelle_app.core.safety import Blocklist
from voxelle_app.core.settings import Settings
from voxelle_app.core.voice import Voice

REPLY = "First sentence is here. Second one follows now. Third comes last of all."


class Rig:
    def __init__(self, director: Director, llm: ScriptedLLM, tts: ScriptedTTS,
                 out: VirtualOutput, rec: Recorder) -> None:
        self.director, self.llm, self.tts, self.out, self.rec = director, llm, tts, out, rec

    async def finished(self) -> ReplyFinished:
        return await self.rec.wait_for(ReplyFinished, timeout=20)


@pytest.fixture
async def rig(request: pytest.FixtureRequest, bus: EventBus, recorder: Recorder,
              tmp_path: Path) -> AsyncIterator[Rig]:
    opts = getattr(request, "param", {})
    settings = Settings()
    llm = ScriptedLLM(opts.get("reply", REPLY), opts.get("first_token_delay", 0.05))
    tts = ScriptedTTS(opts.get("tts_delay", 0.05))
    thinker = LanguageModel(settings, bus, make_llm=lambda s: llm)
    voice = Voice(settings, bus, make_tts=lambda s: tts)
    assert await thinker.load() and await voice.load()
    playback = PlaybackQueue(16000)
    out = VirtualOutput(playback, block_ms=20)
    prompter = Prompter(settings, PersonaStore(tmp_path / "persona.md"), thinker.count_tokens)
    director = Director(settings, bus, prompter, thinker, voice, playback,
                        check_sentence=opts.get("check"))
    await director.start()
    out.start()
    yield Rig(director, llm, tts, out, recorder)
    await director.stop()
    out.stop()
    thinker.shutdown()
    voice.shutdown()


async def test_events_come_in_order_and_history_is_kept(rig: Rig) -> None:
    rig.director.settings.persona.streamer_name = "streamer"
    rig.director.submit("Tell me something", "typed", "streamer")
    done = await rig.finished()
    assert not done.interrupted
    assert done.spoken_text == REPLY
    chain = [e for e in rig.rec.events
             if isinstance(e, ReplyStarted | ReplySentence | SpeechAudioStarted | ReplyFinished)]
    assert isinstance(chain[0], ReplyStarted) and isinstance(chain[-1], ReplyFinished)
    position = {(type(e).__name__, getattr(e, "index", None)): i for i, e in enumerate(chain)}
    for i in range(3):  # each sentence is written before its audio starts
        assert position[("ReplySentence", i)] < position[("SpeechAudioStarted", i)]
    started = [e.index for e in rig.rec.of(SpeechAudioStarted)]
    assert started == [0, 1, 2]
    # the first sentence is published before the last token: streaming, not whole replies
    first_sentence = rig.rec.of(ReplySentence)[0]
    last_token = rig.rec.of(ReplyToken)[-1]
    assert first_sentence.t < last_token.t
    states = [e.state for e in rig.rec.of(AgentStateChanged)]
    assert states == ["thinking", "speaking", "idle"]
    timings = rig.rec.of(TurnTimings)[0]
    assert 0 < timings.to_first_token <= timings.to_first_sentence <= timings.to_first_audio
    assert rig.director.prompter.history[-1].assistant == REPLY
    assert rig.director.prompter.history[-1].user == "streamer (typing): Tell me something"
    assert rig.rec.of(MouthLevel), "lip sync levels are published while speaking"


async def test_sentence_n_plus_1_is_ready_while_n_plays(rig: Rig) -> None:
    rig.director.submit("Go", "typed")
    await rig.finished()
    audio = {e.index: e.t for e in rig.rec.of(SpeechAudioStarted)}
    words0 = len(["First", "sentence", "is", "here."])
    end_of_first = audio[0] + words0 * rig.tts.seconds_per_word
    assert rig.tts.done_at["Second one follows now."] < end_of_first
    # and the second sentence started right when the first ended: no gap for synthesis
    assert audio[1] - end_of_first < 0.1


@pytest.mark.parametrize("rig", [{"first_token_delay": 1.5}], indirect=True)
async def test_interrupt_while_thinking(rig: Rig) -> None:
    rig.director.submit("Go", "typed")
    await rig.rec.wait_for(ReplyStarted)
    await asyncio.sleep(0.2)
    rig.director.stop_speaking("stop")
    done = await rig.finished()
    assert done.interrupted and done.spoken_text == ""
    assert rig.rec.of(SpeechAudioStarted) == []
    assert rig.rec.of(Interrupt)[0].reason == "stop"
    await asyncio.sleep(1.6)
    assert rig.llm.produced <= 1  # generation was cancelled, not run to the end
    assert rig.tts.spoken == []
    assert rig.director.prompter.history[-1].interrupted


async def test_interrupt_while_the_first_sentence_plays(rig: Rig) -> None:
    rig.director.submit("Go", "typed")
    await rig.rec.wait_for(SpeechAudioStarted)
    await asyncio.sleep(0.2)
    n_before = len(rig.out.played)
    rig.director.stop_speaking("stop")
    done = await rig.finished()
    assert done.interrupted
    assert done.spoken_text == "First sentence is here."
    await asyncio.sleep(0.3)
    after = np.concatenate(rig.out.played[n_before + 1 :])
    assert np.all(after == 0), "audio continued after the flush"
    assert [e.index for e in rig.rec.of(SpeechAudioStarted)] == [0]
    turn = rig.director.prompter.history[-1]
    assert turn.interrupted and turn.assistant == "First sentence is here."


async def test_interrupt_while_later_sentences_are_queued(rig: Rig) -> None:
    rig.director.submit("Go", "typed")
    await rig.rec.wait_for(SpeechAudioStarted, lambda e: e.index == 1)
    assert rig.llm.finished.is_set()  # everything was generated and queued already
    rig.director.stop_speaking("stop")
    done = await rig.finished()
    assert done.spoken_text == "First sentence is here. Second one follows now."
    assert done.full_text == REPLY
    await asyncio.sleep(0.3)
    assert [e.index for e in rig.rec.of(SpeechAudioStarted)] == [0, 1]


async def test_barge_in_interrupts_and_can_be_turned_off(rig: Rig) -> None:
    rig.director.settings.audio.barge_in = False
    rig.director.submit("Go", "typed")
    await rig.rec.wait_for(SpeechAudioStarted)
    rig.director.bus.publish(SpeechStarted())
    done = await rig.finished()
    assert not done.interrupted
    rig.director.settings.audio.barge_in = True
    rig.director.submit("Again", "typed")
    await rig.rec.wait_for(SpeechAudioStarted, lambda e: e.turn_id == 2)
    rig.director.bus.publish(SpeechStarted())
    second = await rig.rec.wait_for(ReplyFinished, lambda e: e.turn_id == 2)
    assert second.interrupted
    assert rig.rec.of(Interrupt)[-1].reason == "barge_in"


@pytest.mark.parametrize(
    "rig", [{"reply": "Nice to see you. You are a b.a.d.w.o.r.d person. Anyway, moving on.",
             "check": Blocklist(["badword"]).check}], indirect=True)
async def test_a_blocked_sentence_is_never_spoken_and_the_rest_is_dropped(rig: Rig) -> None:
    rig.director.submit("Insult someone", "typed")
    done = await rig.finished()
    assert rig.tts.spoken == ["Nice to see you."]
    assert done.full_text == "Nice to see you." and done.spoken_text == "Nice to see you."
    blocked = rig.rec.of(SentenceBlocked)
    assert len(blocked) == 1 and blocked[0].matched == ("badword",)
    assert all("moving on" not in e.text for e in rig.rec.of(ReplySentence))


@pytest.mark.parametrize("rig", [{"reply": "[excited] We won the match! That was close."}],
                         indirect=True)
async def test_mood_tag_moves_the_avatar_and_is_not_spoken(rig: Rig) -> None:
    rig.director.submit("Did we win?", "typed")
    done = await rig.finished()
    assert done.mood == "excited"
    assert rig.rec.of(MoodChanged)[0].mood == "excited"
    assert rig.tts.spoken == ["We won the match!", "That was close."]


async def test_voice_input_comes_before_queued_chat(rig: Rig) -> None:
    rig.director.submit("first", "typed")
    await rig.rec.wait_for(ReplyStarted)
    rig.director.submit("a chat line", "twitch", "viewer")
    rig.director.submit("what the streamer said", "voice", "streamer")
    await rig.rec.wait_for(ReplyFinished, lambda e: e.turn_id == 3, timeout=30)
    order = [e.source for e in rig.rec.of(ReplyStarted)]
    assert order == ["typed", "voice", "twitch"]


async def test_panic_stops_and_clears_everything(rig: Rig) -> None:
    rig.director.submit("one", "typed")
    rig.director.submit("two", "twitch", "v")
    await rig.rec.wait_for(SpeechAudioStarted)
    rig.director.set_panic(True)
    done = await rig.finished()
    assert done.interrupted
    await asyncio.sleep(0.5)
    assert len(rig.rec.of(ReplyStarted)) == 1  # the queued chat turn was dropped
    rig.director.submit("three", "twitch", "v")
    await asyncio.sleep(0.3)
    assert len(rig.rec.of(ReplyStarted)) == 1  # chat is paused until resumed
    rig.director.set_panic(False)


async def test_a_failing_selector_is_reported_and_the_director_keeps_going(rig: Rig) -> None:
    from voxelle_app.core.events import StageError

    class Broken:
        def next_input(self, now: float | None = None) -> None:
            raise RuntimeError("selector bug")

        def __getattr__(self, name: str) -> object:
            return lambda *a, **k: None

    rig.director.selector = Broken()  # type: ignore[assignment]
    error = await rig.rec.wait_for(StageError, lambda e: e.component == "pipeline", timeout=5)
    assert "selector bug" in error.message
    rig.director.submit("still there?", "typed")
    done = await rig.finished()
    assert done.spoken_text == REPLY
