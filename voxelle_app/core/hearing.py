"""The co-host's ears: VAD and endpointing on every input block, STT in its own worker.

``feed()`` is called from the audio engine's ears thread (or a WAV feeder in headless runs)
with 16 kHz blocks. It runs the VAD there (a fraction of a millisecond per block) and hands
finished utterances to the loop, which transcribes them in the STT worker and publishes
``SpeechStarted`` / ``SpeechEnded`` / ``TranscriptFinal``. Listening modes: voice-activated,
push-to-talk (the utterance is what was said while the key was held), and muted.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from voxelle_app.core.audio.vad import (
    RATE,
    Endpointer,
    SileroVAD,
    SpeechStart,
    TentativeEnd,
    Utterance,
    VADConfig,
)
from voxelle_app.core.bus import EventBus
from voxelle_app.core.errors import STTError, describe
from voxelle_app.core.events import SpeechEnded, SpeechStarted, TranscriptFinal
from voxelle_app.core.operations.stt.base import SpeechToText, Transcript
from voxelle_app.core.operations.stt.faster_whisper import FasterWhisperSTT
from voxelle_app.core.settings import Settings
from voxelle_app.core.stage import ModelStage

_log = logging.getLogger("voxelle.hearing")
RECENT_SECONDS = 5.0


def whisper_from_settings(settings: Settings) -> SpeechToText:
    s = settings.stt
    return FasterWhisperSTT(
        Path(s.model).expanduser() if s.model else None, s.language, s.beam_size, s.threads
    )


class Hearing(ModelStage):
    component = "stt"

    def __init__(
        self,
        settings: Settings,
        bus: EventBus,
        make_stt: Callable[[Settings], SpeechToText] = whisper_from_settings,
    ) -> None:
        super().__init__(bus)
        self.settings = settings
        self.make_stt = make_stt
        self.stt: SpeechToText | None = None
        self.endpointer: Endpointer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._recent: collections.deque[np.ndarray] = collections.deque()
        self._recent_samples = 0
        self._ptt_audio: list[np.ndarray] | None = None
        self._stream_samples = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._handing_over = 0
        self._early: tuple[int, asyncio.Future[Transcript]] | None = None
        self._count_lock = threading.Lock()
        #: when set, returns True while the co-host's own voice is playing (echo guard)
        self.is_echo: Callable[[np.ndarray], bool] = lambda block: False

    # --- models ------------------------------------------------------------------------

    async def load(self) -> bool:
        self._loop = asyncio.get_running_loop()
        if self.endpointer is None:
            try:
                self.reconfigure_vad(await self.worker.run(SileroVAD))
            except Exception as exc:
                self._status("failed", describe(exc))
                return False
        self.stt = await self._load(
            self.make_stt(self.settings), self.settings.stt.model or "Whisper tiny.en (bundled)"
        )
        return self.stt is not None

    def reconfigure_vad(self, vad: SileroVAD | None = None) -> None:
        """Apply the VAD settings. Before ``load`` there is nothing to reconfigure: loading
        (in the worker) builds the endpointer from the settings as they are then."""
        a = self.settings.audio
        config = VADConfig(a.vad_threshold, a.vad_min_speech_ms, a.vad_end_silence_ms, a.vad_preroll_ms)
        with self._lock:
            vad = vad or (self.endpointer.vad if self.endpointer else None)
            if vad is not None:
                self.endpointer = Endpointer(vad, config)

    @property
    def ready(self) -> bool:
        return self.state == "ready" and self.stt is not None

    @property
    def pending(self) -> bool:
        """An utterance is being handed over or transcribed."""
        return bool(self._tasks) or self._handing_over > 0

    # --- input (ears thread) -----------------------------------------------------------

    def feed(self, block: np.ndarray) -> None:
        """One 16 kHz block from the microphone; runs in the ears thread."""
        now = time.monotonic()
        with self._lock:
            self._remember(block)
            self._stream_samples += block.size
            mode = self.settings.audio.listen_mode
            if self._ptt_audio is not None:
                self._ptt_audio.append(block)
                return
            if mode != "voice" or self.endpointer is None:
                return
            if self.is_echo(block):
                block = np.zeros_like(block)  # keep the VAD's clock running, hear nothing
            events = self.endpointer.feed(block)
        for event in events:
            self._hand_over(event, now)

    def _remember(self, block: np.ndarray) -> None:
        self._recent.append(block)
        self._recent_samples += block.size
        while self._recent_samples - self._recent[0].size >= RECENT_SECONDS * RATE:
            self._recent_samples -= self._recent.popleft().size

    def recent_audio(self, seconds: float = RECENT_SECONDS) -> np.ndarray:
        with self._lock:
            audio = np.concatenate(list(self._recent)) if self._recent else np.zeros(0, np.float32)
        return audio[-int(seconds * RATE) :]

    def _hand_over(self, event: SpeechStart | TentativeEnd | Utterance, now: float) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        stream_time = self._stream_samples / RATE
        if isinstance(event, SpeechStart):
            self.bus.publish(SpeechStarted(stream_time=stream_time))
            return
        if isinstance(event, TentativeEnd):
            # Start transcribing now; if the silence turns out to end the turn, the text is
            # (nearly) ready when it does. If the streamer goes on, the guess is dropped.
            with self._count_lock:
                self._handing_over += 1
            loop.call_soon_threadsafe(self._start_early, event)
            return
        waited = (event.decided_sample - event.offset_sample) / RATE
        speech_end_t = now - waited
        self.bus.publish(SpeechEnded(duration=event.duration, stream_time=stream_time))
        with self._count_lock:
            self._handing_over += 1
        loop.call_soon_threadsafe(self._spawn_transcription, event.audio, speech_end_t, True,
                                  event.offset_sample)

    # --- push to talk ------------------------------------------------------------------

    def push_to_talk(self, pressed: bool) -> None:
        with self._lock:
            if pressed and self._ptt_audio is None:
                # A little of what came just before the key: people start talking as they press.
                recent = np.concatenate(list(self._recent)) if self._recent else np.zeros(0, np.float32)
                self._ptt_audio = [recent[-int(self.settings.audio.vad_preroll_ms * RATE / 1000):]]
                started = True
            elif not pressed and self._ptt_audio is not None:
                audio = np.concatenate(self._ptt_audio) if self._ptt_audio else np.zeros(0, np.float32)
                self._ptt_audio = None
                started = False
            else:
                return
        if started:
            self.bus.publish(SpeechStarted(stream_time=self._stream_samples / RATE))
            return
        self.bus.publish(SpeechEnded(duration=audio.size / RATE, stream_time=self._stream_samples / RATE))
        if audio.size >= 0.2 * RATE:
            self._spawn_transcription(audio, time.monotonic())

    # --- transcription (loop) ------------------------------------------------------------

    def _start_early(self, event: TentativeEnd) -> None:
        with self._count_lock:
            self._handing_over -= 1
        if self.stt is None:
            return
        self._early = (event.offset_sample, asyncio.ensure_future(self.transcribe(event.audio)))

    def _spawn_transcription(self, audio: np.ndarray, speech_end_t: float,
                             handed_over: bool = False, offset: int = -1) -> None:
        early: asyncio.Future[Transcript] | None = None
        if self._early is not None:
            early_offset, future = self._early
            self._early = None
            if early_offset == offset:
                early = future
            else:
                future.cancel()
        task = asyncio.ensure_future(self._transcribe_and_publish(audio, speech_end_t, early))
        if handed_over:
            with self._count_lock:
                self._handing_over -= 1
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _transcribe_and_publish(
        self, audio: np.ndarray, speech_end_t: float,
        early: asyncio.Future[Transcript] | None = None,
    ) -> None:
        if self.stt is None:
            _log.warning("speech heard but the speech model is not loaded: %s", self.detail)
            return
        try:
            result = await early if early is not None else await self.transcribe(audio)
        except STTError as exc:
            _log.error("%s", describe(exc))
            return
        if not result.text:
            return
        self.bus.publish(
            TranscriptFinal(
                text=result.text, language=result.language, audio_seconds=result.audio_seconds,
                stt_seconds=result.compute_seconds, speech_end_t=speech_end_t,
            )
        )

    async def transcribe(self, audio: np.ndarray) -> Transcript:
        stt = self.stt
        if stt is None:
            raise STTError("The speech model is not loaded.", hint=self.detail)
        return await self.worker.run(stt.transcribe, audio)

    async def transcribe_recent(self, seconds: float = RECENT_SECONDS) -> Transcript:
        """The "test" action of the Models panel: transcribe the last seconds of the microphone."""
        return await self.transcribe(self.recent_audio(seconds))

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.worker.shutdown()
