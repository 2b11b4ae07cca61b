"""The conversation in the real window, on the real default models: type, hear a streamed
reply, stop it; panic; a chat flood while the window stays responsive."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt, QTimer
from pytestqt.qtbot import QtBot

from tests.ui.conftest import QLoop
from voxelle_app.core.audio.playback import VirtualOutput
from voxelle_app.core.context import AppContext
from voxelle_app.core.events import (
    ChatMessage,
    ReplyFinished,
    ReplyStarted,
    ReplyToken,
    SpeechAudioStarted,
)
from voxelle_app.ui.main_window import MainWindow

pytestmark = pytest.mark.models


@pytest.fixture
def live(window: MainWindow, qloop: QLoop) -> Iterator[MainWindow]:
    """The window with its models loaded and the conversation running."""
    # A sound card without hardware, paced in real time: speech takes as long as it would.
    out = VirtualOutput(window.ctx.audio.playback)
    out.start()
    assert qloop.run(window.ctx.load_models(), timeout=120)
    qloop.run(window.ctx.director.start())
    yield window
    out.stop()


class Events:
    def __init__(self, ctx: AppContext) -> None:
        self.items: list[object] = []
        ctx.bus.subscribe(object, self.items.append)  # type: ignore[arg-type]

    def of(self, kind: type) -> list:
        return [e for e in self.items if isinstance(e, kind)]


def test_typing_gets_a_streamed_reply_and_stop_interrupts_it(
    live: MainWindow, qloop: QLoop, qtbot: QtBot
) -> None:
    window = live
    ctx = window.ctx
    events = Events(ctx)
    panel = window.conversation_panel
    qloop.do(lambda: qtbot.keyClicks(panel.input, "Tell me a long story about a brave little cat."))
    qloop.do(lambda: qtbot.keyClick(panel.input, Qt.Key.Key_Return))
    assert panel.input.text() == ""
    qloop.wait_until(lambda: len(events.of(ReplyToken)) >= 3, timeout=60)
    qloop.sleep(0.1)
    # Words appear in the transcript while the reply is still being written.
    assert not events.of(ReplyFinished)
    assert "Tell me a long story" in panel.transcript_text()
    qloop.wait_until(lambda: bool(events.of(SpeechAudioStarted)), timeout=60)
    assert ctx.director.state == "speaking"
    qloop.do(panel.stop_button.click)
    qloop.wait_until(lambda: bool(events.of(ReplyFinished)), timeout=30)
    finished = events.of(ReplyFinished)[0]
    assert finished.interrupted
    assert not ctx.audio.playback.busy  # flushed
    qloop.sleep(0.2)
    assert "interrupted" in panel.transcript_text()
    # the transcript keeps what was actually said, and the history records just that
    spoken = finished.spoken_text
    assert spoken and spoken.split()[0] in panel.transcript_text()
    assert ctx.director.prompter.history[-1].interrupted
    assert ctx.director.prompter.history[-1].assistant == spoken


def test_panic_stops_speech_clears_queues_and_pauses_chat(
    live: MainWindow, qloop: QLoop, qtbot: QtBot
) -> None:
    window = live
    ctx = window.ctx
    events = Events(ctx)
    ctx.settings.safety.answer_mode = "all"
    ctx.director.submit("Say something nice about the chat.", "typed")
    qloop.wait_until(lambda: bool(events.of(SpeechAudioStarted)), timeout=60)
    ctx.bus.publish(ChatMessage(platform="twitch", user="viewer1", text="hello there co-host"))
    ctrl_shift = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qloop.do(lambda: qtbot.keyClick(window, Qt.Key.Key_X, ctrl_shift))
    qloop.wait_until(lambda: bool(events.of(ReplyFinished)), timeout=30)
    assert events.of(ReplyFinished)[0].interrupted
    assert window.conversation_panel.panic_button.isChecked()
    assert window.conversation_panel.panic_button.text() == "Resume chat"
    assert ctx.selector.paused and len(ctx.selector) == 0
    ctx.bus.publish(ChatMessage(platform="twitch", user="viewer2", text="are you there?"))
    qloop.sleep(1.0)
    assert len(events.of(ReplyStarted)) == 1  # nothing else was answered
    qloop.do(window.conversation_panel.panic_button.click)  # resume
    assert not ctx.selector.paused and not ctx.director.panic


def test_a_flood_of_chat_keeps_the_queue_bounded_and_the_window_responsive(
    live: MainWindow, qloop: QLoop
) -> None:
    ctx = live.ctx
    ctx.settings.safety.answer_mode = "all"
    ctx.settings.safety.user_cooldown_s = 0
    ctx.director.set_panic(False)
    ticks: list[int] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(10)

    async def flood() -> None:
        import asyncio

        for i in range(1000):
            ctx.bus.publish(ChatMessage(platform="twitch", user=f"viewer{i % 300}",
                                        text=f"message number {i} from the flood"))
            if i % 50 == 0:
                await asyncio.sleep(0)  # a socket delivers in bursts, not all at once

    qloop.run(flood(), timeout=60)
    qloop.sleep(0.3)
    timer.stop()
    assert len(ctx.selector) <= ctx.settings.safety.queue_size
    assert len(ticks) >= 5  # Qt kept processing events during the flood
    ctx.director.stop_speaking()
