"""Conversation panel: the live transcript, a box to talk by typing, Stop / mute / panic, the
agent's state and per-turn timings.

Replies stream in word by word. The transcript is re-rendered at most every 40 ms, however
fast tokens arrive, so a fast model cannot flood the UI thread.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from voxelle_app.core.context import AppContext
from voxelle_app.core.events import (
    AgentStateChanged,
    EarsMuted,
    InputDropped,
    PanicChanged,
    ReplyFinished,
    ReplySentence,
    ReplyStarted,
    ReplyToken,
    SentenceBlocked,
    TurnTimings,
    UserInput,
)
from voxelle_app.core.sentences import split_mood
from voxelle_app.ui.bridge import Bridge

MAX_ENTRIES = 300
SOURCE_COLORS = {"voice": "#60a5fa", "typed": "#a78bfa", "twitch": "#c084fc",
                 "discord": "#818cf8", "system": "#f59e0b"}
STATE_COLORS = {"idle": "#9ca3af", "listening": "#60a5fa", "thinking": "#f5c542",
                "speaking": "#3ecf8e"}
PANIC_KEY = "Ctrl+Shift+X"


@dataclass
class Entry:
    kind: str  # "input" | "reply" | "note"
    who: str
    text: str = ""
    sentences: list[str] = field(default_factory=list)  # checked by the safety filter
    source: str = ""
    turn_id: int = 0
    interrupted: bool = False
    blocked: bool = False
    done: bool = False
    timings: str = ""
    at: float = field(default_factory=time.time)


def _seconds(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f} s"


class ConversationPanel(QWidget):
    def __init__(self, ctx: AppContext, bridge: Bridge) -> None:
        super().__init__()
        self.ctx = ctx
        self.entries: list[Entry] = []
        self._replies: dict[int, Entry] = {}
        self._dirty = False

        self.state_label = QLabel()
        self.state_label.setAccessibleName("Co-host state")
        self.stop_button = QPushButton("Stop talking")
        self.stop_button.setToolTip("Stop speech now and drop what was queued (Esc)")
        self.mute_ears = QCheckBox("Mute ears")
        self.mute_ears.setToolTip("The co-host stops listening to your microphone")
        self.panic_button = QPushButton("PANIC")
        self.panic_button.setObjectName("danger")
        self.panic_button.setCheckable(True)
        self.panic_button.setToolTip(
            f"Stop speech, clear every queue and pause chat until you press it again ({PANIC_KEY})"
        )
        self.timings_label = QLabel("")
        self.timings_label.setStyleSheet("color: #9ca3af")
        self.view = QTextBrowser()
        self.view.setOpenLinks(False)
        self.view.setAccessibleName("Transcript")
        self.input = QLineEdit()
        self.input.setPlaceholderText(f"Say something to {ctx.settings.persona.name}… (Enter)")
        self.send_button = QPushButton("Send")
        self.send_button.setObjectName("primary")

        top = QHBoxLayout()
        top.addWidget(self.state_label)
        top.addStretch(1)
        top.addWidget(self.mute_ears)
        top.addWidget(self.stop_button)
        top.addWidget(self.panic_button)
        bottom = QHBoxLayout()
        bottom.addWidget(self.input, 1)
        bottom.addWidget(self.send_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.timings_label)
        layout.addLayout(bottom)

        self.send_button.clicked.connect(self.send)
        self.input.returnPressed.connect(self.send)
        self.stop_button.clicked.connect(lambda: ctx.director.stop_speaking("stop"))
        self.mute_ears.toggled.connect(ctx.director.set_ears_muted)
        self.panic_button.toggled.connect(ctx.director.set_panic)
        QShortcut(QKeySequence("Esc"), self).activated.connect(
            lambda: ctx.director.stop_speaking("stop"))
        panic = QShortcut(QKeySequence(PANIC_KEY), self)
        panic.setContext(Qt.ShortcutContext.ApplicationShortcut)
        panic.activated.connect(lambda: self.panic_button.setChecked(True))

        bridge.on(UserInput, self._on_input)
        bridge.on(ReplyStarted, self._on_reply_started)
        bridge.on(ReplyToken, self._on_token)
        bridge.on(ReplySentence, self._on_sentence)
        bridge.on(ReplyFinished, self._on_finished)
        bridge.on(SentenceBlocked, self._on_blocked)
        bridge.on(TurnTimings, self._on_timings)
        bridge.on(AgentStateChanged, lambda e: self._show_state(e.state))  # type: ignore[attr-defined]
        bridge.on(PanicChanged, self._on_panic)
        bridge.on(EarsMuted, self._on_ears)
        bridge.on(InputDropped, self._on_dropped)
        self._render_timer = QTimer(self)
        self._render_timer.setInterval(40)
        self._render_timer.timeout.connect(self._render_if_dirty)
        self._render_timer.start()
        self._show_state(ctx.director.state)

    # --- actions -------------------------------------------------------------------------

    def send(self) -> None:
        text = self.input.text().strip()
        if not text:
            return
        self.input.clear()
        self.ctx.director.submit(text, "typed", self.ctx.settings.persona.streamer_name)

    # --- events --------------------------------------------------------------------------

    def _add(self, entry: Entry) -> None:
        self.entries.append(entry)
        if len(self.entries) > MAX_ENTRIES:
            del self.entries[: len(self.entries) - MAX_ENTRIES]
        self._dirty = True

    def _on_input(self, event: object) -> None:
        assert isinstance(event, UserInput)
        who = {"voice": self.ctx.settings.persona.streamer_name + " (voice)",
               "typed": self.ctx.settings.persona.streamer_name + " (typed)",
               "twitch": f"{event.user} (Twitch)", "discord": f"{event.user} (Discord)",
               "system": "Stream event"}[event.source]
        self._add(Entry("input", who, event.text, source=event.source))

    def _on_reply_started(self, event: object) -> None:
        assert isinstance(event, ReplyStarted)
        entry = Entry("reply", self.ctx.settings.persona.name, source="reply", turn_id=event.turn_id)
        self._replies[event.turn_id] = entry
        self._add(entry)

    def _on_token(self, event: object) -> None:
        assert isinstance(event, ReplyToken)
        entry = self._replies.get(event.turn_id)
        if entry is not None and not entry.done and not entry.blocked:
            entry.text += event.text
            self._dirty = True

    def _on_sentence(self, event: object) -> None:
        assert isinstance(event, ReplySentence)
        entry = self._replies.get(event.turn_id)
        if entry is not None:
            entry.sentences.append(event.text)
            self._dirty = True

    def _on_blocked(self, event: object) -> None:
        assert isinstance(event, SentenceBlocked)
        entry = self._replies.get(event.turn_id)
        if entry is not None:
            entry.blocked = True
            self._dirty = True

    def _on_finished(self, event: object) -> None:
        assert isinstance(event, ReplyFinished)
        entry = self._replies.pop(event.turn_id, None)
        if entry is None:
            return
        entry.done = True
        entry.interrupted = event.interrupted
        # The transcript shows what was said (blocked text is never shown).
        entry.text = event.spoken_text if (event.interrupted or entry.blocked) else event.full_text
        if not entry.text and not event.interrupted and not entry.blocked:
            entry.text = "(no reply)"
        self._dirty = True

    def _on_timings(self, event: object) -> None:
        assert isinstance(event, TurnTimings)
        parts = []
        if event.end_of_speech_to_transcript is not None:
            parts.append(f"end of speech → transcript {_seconds(event.end_of_speech_to_transcript)}")
        parts += [f"first token {_seconds(event.to_first_token)}",
                  f"first sentence {_seconds(event.to_first_sentence)}",
                  f"first audio {_seconds(event.to_first_audio)}"]
        text = " · ".join(parts)
        self.timings_label.setText(f"Last turn: {text}")
        for entry in reversed(self.entries):
            if entry.kind == "reply" and entry.turn_id == event.turn_id:
                entry.timings = text
                break
        self._dirty = True

    def _on_panic(self, event: object) -> None:
        assert isinstance(event, PanicChanged)
        self.panic_button.blockSignals(True)
        self.panic_button.setChecked(event.active)
        self.panic_button.blockSignals(False)
        self.panic_button.setText("Resume chat" if event.active else "PANIC")
        self._add(Entry("note", "", "Panic: speech stopped, queues cleared, chat paused."
                        if event.active else "Chat resumed."))

    def _on_ears(self, event: object) -> None:
        assert isinstance(event, EarsMuted)
        self.mute_ears.blockSignals(True)
        self.mute_ears.setChecked(event.muted)
        self.mute_ears.blockSignals(False)

    def _on_dropped(self, event: object) -> None:
        assert isinstance(event, InputDropped)
        if event.reason == "blocked":
            self._add(Entry("note", "", f"A {event.source} message from {event.user or 'someone'} "
                            "was blocked by the safety filter."))

    def _show_state(self, state: str) -> None:
        color = STATE_COLORS.get(state, "#9ca3af")
        self.state_label.setText(f'<b>{html.escape(self.ctx.settings.persona.name)}</b> is '
                                 f'<span style="color:{color}">● {state}</span>')

    # --- rendering -----------------------------------------------------------------------

    def _render_if_dirty(self) -> None:
        if self._dirty:
            self._dirty = False
            self.refresh_view()

    def refresh_view(self) -> None:
        bar = self.view.verticalScrollBar()
        at_bottom = bar.value() >= bar.maximum() - 4
        self.view.setHtml("".join(self._entry_html(e) for e in self.entries))
        if at_bottom:
            bar.setValue(bar.maximum())

    def _entry_html(self, e: Entry) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(e.at))
        if e.kind == "note":
            return (f'<p style="color:#f59e0b;margin:4px 0"><small>{stamp}</small> '
                    f"{html.escape(e.text)}</p>")
        text = e.text
        if e.kind == "reply":
            text = split_mood(text)[1]
            if e.blocked or not self.ctx.blocklist.check(text).allowed:
                # Words stream in before their sentence is checked: never show what the
                # filter would stop (the window may be on stream). Checked sentences only.
                text = " ".join(e.sentences) + (" …" if not e.done else "")
        color = SOURCE_COLORS.get(e.source, "#3ecf8e") if e.kind == "input" else "#3ecf8e"
        body = html.escape(text.strip())
        marks = ""
        if e.kind == "reply" and not e.done:
            marks += ' <span style="color:#9ca3af">▍</span>'
        if e.interrupted:
            marks += ' <span style="color:#ef4444">— interrupted</span>'
        if e.blocked:
            marks += ' <span style="color:#ef4444">— cut by the safety filter</span>'
        timings = (f'<br><small style="color:#6b7280">{html.escape(e.timings)}</small>'
                   if e.timings else "")
        return (f'<p style="margin:6px 0"><small style="color:#6b7280">{stamp}</small> '
                f'<b style="color:{color}">{html.escape(e.who)}</b><br>{body}{marks}{timings}</p>')

    def transcript_text(self) -> str:
        return self.view.toPlainText()
