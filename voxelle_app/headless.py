"""Runs without a window: ``voxelle chat`` (text in the terminal) and ``voxelle run --headless``
(a WAV in as if spoken into the microphone, the co-host's voice out to a WAV).

The headless run uses the same director, models and integrations as the app. Its output is
a ``VirtualOutput`` paced like a sound card, so timings, lip sync and barge-in behave as
they do live; ``fast`` drops the pacing on both sides.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import numpy as np

from voxelle_app.core.audio.playback import VirtualOutput
from voxelle_app.core.audio.resample import resample
from voxelle_app.core.audio.wavio import read_wav, write_wav
from voxelle_app.core.context import AppContext
from voxelle_app.core.control import Switchable
from voxelle_app.core.errors import describe
from voxelle_app.core.events import (
    Event,
    ReplyFinished,
    ReplySentence,
    ReplyStarted,
    StageError,
    TranscriptFinal,
)

BLOCK = 320  # 20 ms at 16 kHz, as the microphone delivers it
TRAILING_SILENCE_S = 2.0  # so the last utterance ends and is answered


class EventLog:
    """Writes every bus event as one JSON line, with seconds since the run began."""

    def __init__(self, path: Path, start: float) -> None:
        self.fh: TextIO = path.open("w", encoding="utf-8")
        self.start = start

    def __call__(self, event: Event) -> None:
        data = event.to_dict()
        data["time"] = round(event.t - self.start, 4)
        self.fh.write(json.dumps(data, default=str) + "\n")

    def close(self) -> None:
        self.fh.close()


def _feed_wav(audio: np.ndarray, feed: Callable[[np.ndarray], None], fast: bool,
              stop: threading.Event) -> None:
    """Hands 20 ms blocks to the ears, paced in real time unless ``fast``."""
    period = BLOCK / 16000
    deadline = time.monotonic()
    for i in range(0, audio.size, BLOCK):
        if stop.is_set():
            return
        feed(audio[i : i + BLOCK])
        if not fast:
            deadline += period
            wait = deadline - time.monotonic()
            if wait > 0:
                stop.wait(wait)


async def run_headless(
    ctx: AppContext,
    input_wav: Path,
    output_wav: Path,
    events_out: Path | None,
    fast: bool,
    integrations: list[Switchable],
    err: TextIO = sys.stderr,
) -> int:
    start = time.monotonic()
    log = EventLog(events_out, start) if events_out else None
    unsubscribe = ctx.bus.subscribe(Event, log) if log else (lambda: None)
    audio, rate = read_wav(input_wav)
    audio16 = np.concatenate([resample(audio, rate, 16000),
                              np.zeros(int(TRAILING_SILENCE_S * 16000), np.float32)])
    replies: list[ReplyFinished] = []
    ctx.bus.subscribe(ReplyFinished, replies.append)
    ctx.bus.subscribe(TranscriptFinal, lambda e: print(f"heard: {e.text}", file=err))
    ctx.bus.subscribe(ReplySentence, lambda e: print(f"says:  {e.text}", file=err))
    ctx.bus.subscribe(StageError, lambda e: print(f"error: {e.component}: {e.message}", file=err))
    output = VirtualOutput(ctx.audio.playback, fast=fast)
    stop = threading.Event()
    try:
        if not await ctx.load_models():
            for stage in (ctx.hearing, ctx.voice, ctx.llm):
                if stage.state == "failed":
                    print(f"voxelle: {stage.detail}", file=err)
            return 2
        await ctx.director.start()
        for integration in integrations:
            await integration.start()
        output.start()
        feeder = threading.Thread(target=_feed_wav, args=(audio16, ctx.hearing.feed, fast, stop),
                                  name="voxelle-wav-feeder", daemon=True)
        feeder.start()
        await asyncio.to_thread(feeder.join)
        await _settle(ctx)
        if not replies:
            print(f"voxelle: no speech was understood in {input_wav}, so there was nothing to "
                  "answer.", file=err)
            return 1
        return 0
    finally:
        stop.set()
        for integration in integrations:
            try:
                await integration.stop()
            except Exception as exc:
                print(f"voxelle: stopping {integration.name}: {describe(exc)}", file=err)
        await ctx.stop_core()
        output.stop()
        write_wav(output_wav, output.recording(), output.rate)
        unsubscribe()
        if log:
            log.close()


async def _settle(ctx: AppContext, quiet_for: float = 0.6) -> None:
    """Wait until nothing is being transcribed, thought, said or played for a moment."""
    quiet_since: float | None = None
    while True:
        busy = (ctx.director.busy or ctx.audio.playback.busy or ctx.hearing.pending
                or ctx.hearing.endpointer is not None and ctx.hearing.endpointer.speaking)
        now = time.monotonic()
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = now
        elif now - quiet_since >= quiet_for:
            return
        await asyncio.sleep(0.05)


async def run_chat(ctx: AppContext, once: str | None, out: TextIO = sys.stdout,
                   err: TextIO = sys.stderr) -> int:
    """A text conversation: lines in, streamed sentences out; no audio."""
    ctx.director.speaker = None
    ctx.director.playback = None
    if not await ctx.llm.load():
        print(f"voxelle: {ctx.llm.detail}", file=err)
        return 2
    done = asyncio.Event()

    def on_sentence(e: ReplySentence) -> None:
        out.write(("" if e.index == 0 else " ") + e.text)
        out.flush()

    def on_start(e: ReplyStarted) -> None:
        out.write(f"{ctx.settings.persona.name}: ")
        out.flush()

    def on_finish(e: ReplyFinished) -> None:
        out.write("\n")
        out.flush()
        done.set()

    ctx.bus.subscribe(ReplySentence, on_sentence)
    ctx.bus.subscribe(ReplyStarted, on_start)
    ctx.bus.subscribe(ReplyFinished, on_finish)
    ctx.bus.subscribe(StageError, lambda e: print(f"error: {e.message}", file=err))
    await ctx.director.start()
    try:
        lines = [once] if once is not None else None
        while True:
            if lines is not None:
                if not lines:
                    return 0
                line = lines.pop(0)
            else:
                try:
                    line = await asyncio.to_thread(input, "you: ")
                except EOFError:
                    return 0
            if not line.strip():
                continue
            if line.strip() in ("/quit", "/exit"):
                return 0
            done.clear()
            ctx.director.submit(line, "typed", ctx.settings.persona.streamer_name)
            await done.wait()
    finally:
        await ctx.director.stop()
        ctx.llm.shutdown()
