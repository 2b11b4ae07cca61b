"""The conversation director: inputs → prompt → LLM stream → sentences → TTS → playback.

Stages overlap: the LLM writes sentence N+1 (LLM worker thread) while the voice
synthesizes it (TTS worker thread) while sentence N plays (audio thread). The loop only
moves finished pieces between them.

Interruption (barge-in, Stop, panic) is one method, ``stop_speaking``: playback is flushed
(silent from the next audio block), queued sentences are dropped, generation and synthesis
are cancelled, and the history keeps only the sentences that actually started playing,
marked as interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from voxelle_app.core.audio.playback import PlaybackHooks, PlaybackQueue
from voxelle_app.core.audio.resample import StreamResampler
from voxelle_app.core.bus import EventBus
from voxelle_app.core.control import AudioSink
from voxelle_app.core.errors import describe
from voxelle_app.core.events import (
    AgentState,
    AgentStateChanged,
    ChatMessage,
    EarsMuted,
    Interrupt,
    MoodChanged,
    MouthLevel,
    PanicChanged,
    ReplyFinished,
    ReplySentence,
    ReplyStarted,
    ReplyToken,
    SentenceBlocked,
    Source,
    SpeechAudioStarted,
    SpeechEnded,
    SpeechStarted,
    StageError,
    StreamEvent,
    TranscriptFinal,
    TurnTimings,
    UserInput,
)
from voxelle_app.core.logs import Category
from voxelle_app.core.operations.t2t.base import ChatMessageDict
from voxelle_app.core.prompter.prompt import Prompter
from voxelle_app.core.sentences import SentenceSplitter, guess_mood, speakable, split_mood
from voxelle_app.core.settings import Settings

_log = logging.getLogger("voxelle.pipeline")

PRIORITY = {"voice": 0, "typed": 1, "system": 2, "twitch": 3, "discord": 3}


class Thinker(Protocol):
    @property
    def ready(self) -> bool: ...

    def stream(
        self, messages: list[ChatMessageDict], max_tokens: int | None = None
    ) -> AsyncIterator[str]: ...

    def count_tokens(self, text: str) -> int: ...


class Speaker(Protocol):
    @property
    def ready(self) -> bool: ...

    @property
    def sample_rate(self) -> int: ...

    def stream(self, text: str) -> AsyncIterator[np.ndarray]: ...


#: checks one sentence before it is spoken: (allowed, matched terms)
SentenceCheck = Callable[[str], tuple[bool, tuple[str, ...]]]


class ChatSelector(Protocol):
    """Chooses which chat inputs get an answer (core.safety.InputSelector)."""

    def offer(self, item: ChatMessage | StreamEvent) -> object: ...

    def next_input(self, now: float | None = None) -> UserInput | None: ...

    def note_turn(self, source: Source, now: float | None = None) -> None: ...

    def set_streamer_speaking(self, active: bool, now: float | None = None) -> None: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def clear(self) -> None: ...


@dataclass
class _Turn:
    id: int
    input: UserInput
    t0: float  # end of the streamer's speech, or when the input arrived
    prompt_text: str = ""
    text: str = ""  # everything generated (for the transcript)
    mood: str = ""
    sentences: list[str] = field(default_factory=list)  # allowed, in order
    started: set[int] = field(default_factory=set)  # sentence indices whose audio began
    done: set[int] = field(default_factory=set)
    enqueued_all: bool = False
    last_index: int = -1
    interrupted: bool = False
    blocked: bool = False
    first_token: float | None = None
    first_sentence: float | None = None
    first_audio: float | None = None
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    def spoken_text(self) -> str:
        return " ".join(s for i, s in enumerate(self.sentences) if i in self.started)


class Director:
    """Implements ``core.control.CoHost``."""

    def __init__(
        self,
        settings: Settings,
        bus: EventBus,
        prompter: Prompter,
        thinker: Thinker,
        speaker: Speaker | None,
        playback: PlaybackQueue | None,
        check_sentence: SentenceCheck | None = None,
        selector: ChatSelector | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.bus = bus
        self.prompter = prompter
        self.thinker = thinker
        self.speaker = speaker
        self.playback = playback
        self.check_sentence = check_sentence
        self.selector = selector
        self.clock = clock
        self.sinks: list[AudioSink] = []
        #: get every block as it is played, in the audio thread (the echo guard)
        self.block_observers: list[Callable[[np.ndarray], None]] = []
        self.state: AgentState = "idle"
        self.ears_muted = False
        self.panic = False
        self._ids = itertools.count(1)
        self._seq = itertools.count()
        self._inputs: asyncio.PriorityQueue[tuple[int, int, UserInput]] = asyncio.PriorityQueue()
        self._current: _Turn | None = None
        self._runner: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listening = False
        self._last_level = 0.0
        self._idle = asyncio.Event()
        self._warm_system = ""
        self._unsubscribe: list[Callable[[], None]] = []

    # --- lifecycle ---------------------------------------------------------------------

    @property
    def persona_name(self) -> str:
        return self.settings.persona.name

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self.playback is not None:
            self.playback.hooks = PlaybackHooks(
                on_tag_start=self._threadsafe(self._tag_started),
                on_tag_done=self._threadsafe(self._tag_done),
                on_block=self._on_played_block,
                on_idle=self._threadsafe(self._playback_idle),
            )
        self._unsubscribe = [
            self.bus.subscribe(TranscriptFinal, self._on_transcript),
            self.bus.subscribe(SpeechStarted, self._on_speech_started),
            self.bus.subscribe(SpeechEnded, self._on_speech_ended),
            self.bus.subscribe(ChatMessage, self._on_chat),
            self.bus.subscribe(StreamEvent, self._on_chat),
        ]
        self._runner = asyncio.create_task(self._run(), name="voxelle-director")

    async def stop(self) -> None:
        self.stop_speaking("shutdown")
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner

    def _threadsafe(self, fn: Callable[[Any], None] | Callable[[], None]) -> Callable[..., None]:
        def call(*args: Any) -> None:
            loop = self._loop
            if loop is not None and not loop.is_closed():
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(fn, *args)

        return call

    # --- inputs ------------------------------------------------------------------------

    def submit(
        self,
        text: str,
        source: Source,
        user: str = "",
        origin: ChatMessage | StreamEvent | None = None,
        speech_end_t: float | None = None,
    ) -> None:
        text = text.strip()
        if not text:
            return
        if self.panic and source != "typed":
            _log.info("input ignored while panic is on", extra={"category": Category.SECURITY})
            return
        event = UserInput(source=source, text=text, user=user, priority=PRIORITY[source],
                          speech_end_t=speech_end_t, origin=origin)
        self.bus.publish(event)
        self._inputs.put_nowait((PRIORITY[source], next(self._seq), event))

    def _on_chat(self, event: ChatMessage | StreamEvent) -> None:
        """Chat goes through the selector (blocklist, answer mode, cooldowns, queue);
        without one, chat is never answered: nothing unfiltered reaches the model."""
        if self.selector is not None:
            self.selector.offer(event)

    def _on_transcript(self, event: TranscriptFinal) -> None:
        self._listening = False
        if self.ears_muted:
            return
        self.submit(event.text, "voice", self.settings.persona.streamer_name,
                    speech_end_t=event.speech_end_t)

    def _on_speech_started(self, event: SpeechStarted) -> None:
        if self.ears_muted:
            return
        self._listening = True
        if self.selector is not None:
            self.selector.set_streamer_speaking(True)
        turn = self._current
        if turn is not None and self.settings.audio.barge_in:
            self.stop_speaking("barge_in")
        elif turn is None:
            self._set_state("listening")

    def _on_speech_ended(self, event: SpeechEnded) -> None:
        if self.selector is not None:
            self.selector.set_streamer_speaking(False)
        if self._current is None and self.state == "listening":
            self._set_state("idle")

    def set_ears_muted(self, muted: bool) -> None:
        self.ears_muted = muted
        self.bus.publish(EarsMuted(muted=muted))

    def set_panic(self, active: bool) -> None:
        self.panic = active
        if active:
            self.stop_speaking("panic")
            while not self._inputs.empty():
                self._inputs.get_nowait()
            if self.selector is not None:
                self.selector.pause()
                self.selector.clear()
        elif self.selector is not None:
            self.selector.resume()
        self.bus.publish(PanicChanged(active=active))

    @property
    def busy(self) -> bool:
        """A reply is being made or played, or inputs are waiting."""
        return self._current is not None or not self._inputs.empty()

    async def wait_idle(self) -> None:
        """Until no reply is being made or played and no input waits."""
        while self.busy:
            self._idle.clear()
            await self._idle.wait()

    # --- the turn loop -----------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                event = await self._next_input()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # e.g. a broken selector: report, keep listening
                _log.exception("choosing the next input failed")
                self.bus.publish(StageError(component="pipeline", message=describe(exc)))
                await asyncio.sleep(1.0)
                continue
            try:
                await self._turn(event)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a failed turn must not end the conversation
                _log.exception("reply failed")
                self.bus.publish(StageError(component="pipeline", message=describe(exc)))
                self._current = None
                self._set_state("idle")
                self._idle.set()

    async def warm_up(self) -> None:
        """Evaluate the persona's system prompt now, while nobody waits, so the next reply
        only evaluates what is new (llama.cpp keeps the common prefix in its KV cache)."""
        system = self.prompter.system_prompt()
        if not self.thinker.ready or system == self._warm_system:
            return
        self._warm_system = system
        probe = UserInput(source="typed", text="Hi")
        try:
            async for _ in self.thinker.stream(self.prompter.build(probe), max_tokens=1):
                pass
        except Exception as exc:
            _log.warning("warm-up failed: %s", describe(exc))

    async def _next_input(self) -> UserInput:
        while True:
            if not self._inputs.empty():
                return self._inputs.get_nowait()[2]
            if not self._listening and not self.panic and self.selector is not None:
                chat = self.selector.next_input()
                if chat is not None:
                    self.bus.publish(chat)
                    return chat
            try:
                return (await asyncio.wait_for(self._inputs.get(), timeout=0.25))[2]
            except TimeoutError:
                await self.warm_up()

    async def _turn(self, event: UserInput) -> None:
        turn = _Turn(next(self._ids), event, event.speech_end_t or event.t)
        self._current = turn
        if self.selector is not None and event.source in ("voice", "typed"):
            self.selector.note_turn(event.source)
        self._set_state("thinking")
        messages = self.prompter.build(event)
        self._warm_system = messages[0]["content"]
        turn.prompt_text = messages[-1]["content"]
        self.bus.publish(ReplyStarted(turn_id=turn.id, source=event.source, user=event.user,
                                      prompt_text=turn.prompt_text, origin=event.origin))
        if not self.thinker.ready:
            self.bus.publish(StageError(component="llm",
                                        message="The language model is not loaded; nothing to reply with."))
            turn.finished.set()
        else:
            sentences: asyncio.Queue[str | None] = asyncio.Queue()
            turn.tasks = [
                asyncio.create_task(self._generate(turn, messages, sentences)),
                asyncio.create_task(self._speak(turn, sentences)),
            ]
        await turn.finished.wait()
        for task in turn.tasks:
            if not task.done():
                task.cancel()
        await asyncio.gather(*turn.tasks, return_exceptions=True)
        self._finish(turn)

    async def _generate(self, turn: _Turn, messages: list[ChatMessageDict],
                        out: asyncio.Queue[str | None]) -> None:
        splitter = SentenceSplitter(eager_first=True)
        head: str | None = ""  # the reply's start, until we know if it carries a mood tag
        try:
            async for piece in self.thinker.stream(messages):
                if turn.first_token is None:
                    turn.first_token = self.clock()
                turn.text += piece
                self.bus.publish(ReplyToken(turn_id=turn.id, text=piece))
                if head is not None:
                    head += piece
                    start = head.lstrip()
                    if not start or (start[0] in "[(*" and len(start) < 24
                                     and not any(c in start[1:] for c in "])*")):
                        continue
                    turn.mood, text = split_mood(head)
                    head = None
                else:
                    text = piece
                for sentence in splitter.push(text):
                    if not self._emit_sentence(turn, sentence, out):
                        return
            remaining: list[str] = []
            if head:
                turn.mood, rest = split_mood(head)
                remaining = splitter.push(rest)
            for sentence in remaining + splitter.flush():
                if not self._emit_sentence(turn, sentence, out):
                    return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            _log.error("generation failed: %s", describe(exc))
            self.bus.publish(StageError(component="llm", message=describe(exc)))
        finally:
            out.put_nowait(None)

    def _emit_sentence(self, turn: _Turn, sentence: str, out: asyncio.Queue[str | None]) -> bool:
        """Check one sentence and queue it for speech; False ends the reply here."""
        if self.check_sentence is not None:
            allowed, matched = self.check_sentence(sentence)
            if not allowed:
                turn.blocked = True
                self.bus.publish(SentenceBlocked(turn_id=turn.id, text=sentence, matched=matched))
                _log.warning("blocked a sentence of reply %d (matched %s); the rest is dropped",
                             turn.id, ", ".join(matched), extra={"category": Category.SECURITY})
                return False
        index = len(turn.sentences)
        turn.sentences.append(sentence)
        if turn.first_sentence is None:
            turn.first_sentence = self.clock()
        self.bus.publish(ReplySentence(turn_id=turn.id, index=index, text=sentence))
        out.put_nowait(sentence)
        return True

    async def _speak(self, turn: _Turn, sentences: asyncio.Queue[str | None]) -> None:
        index = -1
        try:
            while (sentence := await sentences.get()) is not None:
                index += 1
                await self._speak_one(turn, index, sentence)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the voice failed: stop this reply, keep the conversation
            _log.error("speech failed: %s", describe(exc))
            self.bus.publish(StageError(component="tts", message=describe(exc)))
            for task in turn.tasks:
                if task is not asyncio.current_task():
                    task.cancel()
        turn.enqueued_all = True
        turn.last_index = index
        self._maybe_finished(turn)

    async def _speak_one(self, turn: _Turn, index: int, sentence: str) -> None:
        speaker, playback = self.speaker, self.playback
        text = speakable(sentence)
        if speaker is None or playback is None or not speaker.ready or not text:
            self._tag_started((turn.id, index))  # text only: "spoken" when it is produced
            self._tag_done((turn.id, index))
            return
        resampler = StreamResampler(speaker.sample_rate, playback.rate)
        async for chunk in speaker.stream(text):
            self._play(turn, index, resampler.process(chunk), last=False)  # play it at once
        # the resampler's tail closes the sentence: its end is what "spoken" waits for
        self._play(turn, index, resampler.process(np.zeros(0, np.float32), last=True), last=True)

    def _play(self, turn: _Turn, index: int, audio: np.ndarray, last: bool) -> None:
        assert self.playback is not None
        if turn.interrupted:
            return
        self.playback.enqueue(audio, tag=(turn.id, index), last=last)
        for sink in self.sinks:
            try:
                sink.write(audio, self.playback.rate)
            except Exception as exc:
                _log.warning("audio sink failed: %s", describe(exc))

    # --- playback reports (on the loop) -------------------------------------------------

    def _tag_started(self, tag: tuple[int, int]) -> None:
        turn = self._current
        if turn is None or turn.id != tag[0] or turn.interrupted:
            return
        turn.started.add(tag[1])
        first = turn.first_audio is None
        if first:
            turn.first_audio = self.clock()
            self._set_state("speaking")
        self.bus.publish(SpeechAudioStarted(turn_id=turn.id, index=tag[1]))
        if first:
            self._publish_timings(turn)
            turn.mood = turn.mood or guess_mood(turn.text)
            self.bus.publish(MoodChanged(mood=turn.mood))

    def _tag_done(self, tag: tuple[int, int]) -> None:
        turn = self._current
        if turn is None or turn.id != tag[0]:
            return
        turn.done.add(tag[1])
        self._maybe_finished(turn)

    def _playback_idle(self) -> None:
        turn = self._current
        if turn is not None:
            self._maybe_finished(turn)

    def _maybe_finished(self, turn: _Turn) -> None:
        if turn.enqueued_all and all(i in turn.done for i in range(turn.last_index + 1)):
            turn.finished.set()

    def _on_played_block(self, block: np.ndarray, delay: float) -> None:
        """Audio thread: loudness of what is being played, for lip sync and meters."""
        for observe in self.block_observers:
            observe(block)
        level = float(np.sqrt(np.mean(np.square(block)))) if block.size else 0.0
        if level < 1e-4 and self._last_level < 1e-4:
            return  # silence after silence: nothing to tell
        self._last_level = level
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(
                loop.call_later, delay, self.bus.publish, MouthLevel(value=min(1.0, level))
            )

    # --- interruption and the end of a turn --------------------------------------------

    def stop_speaking(self, reason: str = "stop") -> None:
        turn = self._current
        if self.playback is not None:
            self.playback.flush()
        for sink in self.sinks:
            with contextlib.suppress(Exception):
                sink.flush()
        if turn is None or turn.finished.is_set():
            return
        turn.interrupted = True
        for task in turn.tasks:
            task.cancel()
        self.bus.publish(Interrupt(reason=reason))  # type: ignore[arg-type]
        self.bus.publish(MouthLevel(value=0.0))
        turn.finished.set()

    def _finish(self, turn: _Turn) -> None:
        spoken = turn.spoken_text()
        full = " ".join(turn.sentences)
        self.prompter.record(turn.prompt_text, spoken, turn.interrupted)
        if turn.first_audio is None:
            self._publish_timings(turn)
        self.bus.publish(ReplyFinished(
            turn_id=turn.id, spoken_text=spoken, full_text=full, interrupted=turn.interrupted,
            mood=turn.mood, source=turn.input.source, origin=turn.input.origin,
        ))
        self._current = None
        self._set_state("listening" if self._listening else "idle")
        if self._inputs.empty():
            self._idle.set()

    def _publish_timings(self, turn: _Turn) -> None:
        def since(t: float | None) -> float | None:
            return None if t is None else t - turn.t0

        stt = None
        if turn.input.source == "voice" and turn.input.speech_end_t is not None:
            stt = turn.input.t - turn.input.speech_end_t
        self.bus.publish(TurnTimings(
            turn_id=turn.id, source=turn.input.source, end_of_speech_to_transcript=stt,
            to_first_token=since(turn.first_token), to_first_sentence=since(turn.first_sentence),
            to_first_audio=since(turn.first_audio),
        ))

    def _set_state(self, state: AgentState) -> None:
        if state != self.state:
            self.state = state
            self.bus.publish(AgentStateChanged(state=state))
