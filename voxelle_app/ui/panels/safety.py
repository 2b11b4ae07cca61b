"""Safety panel: the streamer's blocklist, what chat gets answered, a live tester, and a log
of what was blocked.

The window may be on stream, so nothing here ever shows the text of a blocked message or a
blocked sentence: the "Recently blocked" list says who, where, when and why, nothing more.
Checking text can take a while on long, heavily masked input, so the tester runs the check
in a worker thread; the blocklist itself is immutable and safe to share with it.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from voxelle_app.core.context import AppContext
from voxelle_app.core.errors import describe
from voxelle_app.core.events import InputDropped, SentenceBlocked
from voxelle_app.core.safety import Blocklist, Match, read_terms
from voxelle_app.ui.bridge import Bridge
from voxelle_app.ui.tasks import TaskKeeper

#: how many entries "Recently blocked" keeps (newest first)
MAX_BLOCKED = 200
#: longest line the tester takes: Discord's message limit, well above Twitch's 500
MAX_TEST_CHARS = 2000
#: longest term accepted in a list (a phrase, not a paragraph)
MAX_TERM_CHARS = 100

ERROR_COLOR = "#ef4444"
OK_COLOR = "#3ecf8e"
WARN_COLOR = "#f5c542"
MUTED = "color: #9ca3af"
#: a visible box for check boxes on the dark theme (the global style leaves them unstyled)

ANSWER_MODES: tuple[tuple[str, str], ...] = (
    ("Every message", "all"),
    ("Messages that mention the co-host's name", "mentions"),
    ("Messages with a keyword", "keyword"),
    ("Subscribers (and moderators) only", "subscribers"),
    ("Messages with at least some bits", "bits"),
    ("Only chosen channel-point redemptions", "redemptions"),
)

HIDDEN_NAME = "(name blocked)"
SOURCE_TITLES = {"twitch": "Twitch", "discord": "Discord", "voice": "Microphone",
                 "typed": "Typed", "system": "Voxelle"}

BLOCKLIST_HINT = (
    "One word or phrase per line; # starts a comment (comments are not kept). End a term "
    "with * to also match longer words (fuck* matches fucking); start it with * to match "
    "word endings (*shit matches bullshit). Spacing, punctuation, repeated letters, "
    "look-alike letters and digits are all caught."
)


@dataclass(frozen=True)
class AnswerRules:
    """The answer-rule widgets' values, to tell saved from unsaved and to revert."""

    answer_mode: str
    keyword: str
    min_bits: int
    redemptions: tuple[str, ...]
    user_cooldown_s: float
    max_age_s: float
    chat_min_interval_s: float


@dataclass(frozen=True)
class ListsState:
    """The blocklist editors' contents, to tell saved from unsaved."""

    blocklist: str
    allowlist: str
    use_default: bool


def parse_redemptions(text: str) -> tuple[str, ...]:
    """Reward names separated by commas or lines; blanks and repeats dropped."""
    names = (part.strip() for part in re.split(r"[,\n]", text))
    return tuple(dict.fromkeys(n for n in names if n))


def list_problems(block: list[str], allow: list[str]) -> list[str]:
    """What would make a saved list not do what the streamer meant, as sentences.

    A term too short to match would be dropped silently by the matcher, and a term that is
    also on the allowlist would be dropped too; both are better said than hidden.
    """
    problems: list[str] = []
    for label, terms in (("Blocked", block), ("Allowed", allow)):
        for term in terms:
            if len(term) > MAX_TERM_CHARS:
                problems.append(f"{label} term {term[:30]!r}… is longer than {MAX_TERM_CHARS} "
                                "characters; put one word or phrase per line.")
            elif len(Blocklist([term])) == 0:
                problems.append(f"{label} term {term!r} is too short to match anything: a term "
                                "needs at least two letters or digits.")
    allowed = {" ".join(a.casefold().split()) for a in allow}
    both = [t for t in block if " ".join(t.casefold().split()) in allowed]
    if both:
        problems.append(f"{', '.join(repr(t) for t in both)} is on both lists; remove it from "
                        "one of them.")
    return problems


def _spin(maximum: float, step: float, suffix: str, minimum: float = 0.0) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(minimum, maximum)
    spin.setDecimals(1)
    spin.setSingleStep(step)
    spin.setSuffix(suffix)
    return spin


class SafetyPanel(QWidget):
    #: True while the panel holds changes that are not saved (for a tab marker)
    dirty_changed = Signal(bool)

    def __init__(self, ctx: AppContext, bridge: Bridge, tasks: TaskKeeper) -> None:
        super().__init__()
        self.ctx = ctx
        self.tasks = tasks
        self._saving: asyncio.Task[bool] | None = None
        self._test_task: asyncio.Task[None] | None = None
        self._was_dirty = False
        self._loading = False
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)

        # --- blocklist and allowlist ---
        self.blocklist_edit = QPlainTextEdit()
        self.blocklist_edit.setFont(mono)
        self.blocklist_edit.setAccessibleName("Blocked words, one per line")
        self.blocklist_edit.setPlaceholderText("One word or phrase per line")
        self.use_default_box = QCheckBox(
            "Also use Voxelle's default list (slurs, severe profanity, sexual terms, self-harm, "
            "doxxing)"
        )
        self.default_warning = QLabel(
            "The default list is off: only your own terms are blocked, on chat and on what the "
            "co-host says."
        )
        self.default_warning.setWordWrap(True)
        self.default_warning.setStyleSheet(f"color: {WARN_COLOR}")
        self.allowlist_edit = QPlainTextEdit()
        self.allowlist_edit.setFont(mono)
        self.allowlist_edit.setAccessibleName("Words never flagged, one per line")
        self.allowlist_edit.setPlaceholderText("e.g. Dick Grayson")
        self.allowlist_edit.setFixedHeight(80)
        hint = QLabel(BLOCKLIST_HINT)
        hint.setWordWrap(True)
        hint.setStyleSheet(MUTED)
        lists_box = QGroupBox("Blocked words")
        lists = QVBoxLayout(lists_box)
        lists.addWidget(hint)
        lists.addWidget(self.blocklist_edit, 1)
        lists.addWidget(self.use_default_box)
        lists.addWidget(self.default_warning)
        allow_label = QLabel("Never flagged (allowlist): words and phrases that may contain a "
                             "blocked term")
        allow_label.setWordWrap(True)
        lists.addWidget(allow_label)
        lists.addWidget(self.allowlist_edit)

        # --- what chat gets answered ---
        self.mode_combo = QComboBox()
        self.mode_combo.setAccessibleName("Answer mode")
        for label, mode in ANSWER_MODES:
            self.mode_combo.addItem(label, mode)
        self.mode_hint = QLabel("")
        self.mode_hint.setWordWrap(True)
        self.mode_hint.setStyleSheet(MUTED)
        self.keyword_edit = QLineEdit()
        self.keyword_edit.setAccessibleName("Keyword")
        self.keyword_edit.setPlaceholderText("!ask")
        self.min_bits_spin = QSpinBox()
        self.min_bits_spin.setRange(1, 1_000_000)
        self.min_bits_spin.setSingleStep(50)
        self.min_bits_spin.setSuffix(" bits")
        self.min_bits_spin.setAccessibleName("Minimum bits")
        self.redemptions_edit = QPlainTextEdit()
        self.redemptions_edit.setAccessibleName("Redemptions the co-host answers")
        self.redemptions_edit.setPlaceholderText("Reward names, comma or line separated")
        self.redemptions_edit.setFixedHeight(56)
        self.cooldown_spin = _spin(3600, 5, " s")
        self.cooldown_spin.setAccessibleName("Per-user cooldown")
        self.max_age_spin = _spin(3600, 10, " s", minimum=1)
        self.max_age_spin.setAccessibleName("Maximum age of a waiting message")
        self.interval_spin = _spin(3600, 5, " s")
        self.interval_spin.setAccessibleName("Least time between chat turns")
        rules_box = QGroupBox("What chat gets answered")
        rules_layout = QVBoxLayout(rules_box)
        rules = QFormLayout()
        rules.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        rules.addRow("Answer", self.mode_combo)
        rules.addRow("", self.mode_hint)
        rules.addRow("Keyword", self.keyword_edit)
        rules.addRow("Minimum bits", self.min_bits_spin)
        rules.addRow("Redemptions", self.redemptions_edit)
        rules.addRow("Per-user cooldown", self.cooldown_spin)
        rules.addRow("Forget messages after", self.max_age_spin)
        rules.addRow("Chat speaks at most every", self.interval_spin)
        rules_hint = QLabel("These apply at once; Save keeps them for next time. "
                            "Your own voice always comes before chat.")
        rules_hint.setWordWrap(True)
        rules_hint.setStyleSheet(MUTED)
        rules_layout.addLayout(rules)
        rules_layout.addWidget(rules_hint)

        # --- the tester ---
        self.test_edit = QLineEdit()
        self.test_edit.setMaxLength(MAX_TEST_CHARS)
        self.test_edit.setPlaceholderText("Type a line to see whether it would be blocked")
        self.test_edit.setAccessibleName("Test a line")
        self.test_edit.setClearButtonEnabled(True)
        self.test_result = QLabel("")
        self.test_result.setWordWrap(True)
        self.test_result.setTextFormat(Qt.TextFormat.PlainText)
        self.test_note = QLabel("")
        self.test_note.setWordWrap(True)
        self.test_note.setStyleSheet(MUTED)
        test_box = QGroupBox("Test a line")
        test = QVBoxLayout(test_box)
        test.addWidget(self.test_edit)
        test.addWidget(self.test_result)
        test.addWidget(self.test_note)

        # --- recently blocked ---
        self.blocked_list = QTreeWidget()
        self.blocked_list.setHeaderLabels(["Time", "From", "Who", "What happened"])
        self.blocked_list.setRootIsDecorated(False)
        self.blocked_list.setUniformRowHeights(True)
        self.blocked_list.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.blocked_list.setAccessibleName("Recently blocked")
        self.blocked_list.setMinimumHeight(120)
        header = self.blocked_list.header()
        header.setStretchLastSection(True)
        for column in range(3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.clear_blocked_button = QPushButton("Clear")
        blocked_note = QLabel("Blocked text is never shown here (the window may be on stream); "
                              "the audit log has the details.")
        blocked_note.setWordWrap(True)
        blocked_note.setStyleSheet(MUTED)
        self.blocked_box = QGroupBox("Recently blocked")
        blocked = QVBoxLayout(self.blocked_box)
        blocked.addWidget(self.blocked_list, 1)
        blocked_row = QHBoxLayout()
        blocked_row.addWidget(blocked_note, 1)
        blocked_row.addWidget(self.clear_blocked_button)
        blocked.addLayout(blocked_row)

        # --- save / revert ---
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("primary")
        self.revert_button = QPushButton("Revert")

        # The tester sits under the lists it tests; the rules beside the log of what they drop.
        left = QVBoxLayout()
        left.addWidget(lists_box, 1)
        left.addWidget(test_box)
        right = QVBoxLayout()
        right.addWidget(rules_box)
        right.addWidget(self.blocked_box, 1)
        columns = QHBoxLayout()
        columns.addLayout(left, 1)
        columns.addLayout(right, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.revert_button)
        bottom.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addLayout(columns, 1)
        layout.addLayout(bottom)

        self._saved_lists = ListsState("", "", True)
        self._saved_rules = self._rules_from_widgets()
        self._load_lists()
        self._set_rules(self._rules_from_settings())
        self._saved_rules = self._rules_from_widgets()
        self._changed()

        self.blocklist_edit.textChanged.connect(self._changed)
        self.allowlist_edit.textChanged.connect(self._changed)
        self.use_default_box.toggled.connect(self._changed)
        self.mode_combo.currentIndexChanged.connect(self._rules_edited)
        self.keyword_edit.textChanged.connect(self._rules_edited)
        self.min_bits_spin.valueChanged.connect(self._rules_edited)
        self.redemptions_edit.textChanged.connect(self._rules_edited)
        for spin in (self.cooldown_spin, self.max_age_spin, self.interval_spin):
            spin.valueChanged.connect(self._rules_edited)
        self.test_edit.textChanged.connect(self._test_changed)
        self.save_button.clicked.connect(self.save)
        self.revert_button.clicked.connect(self.revert)
        self.clear_blocked_button.clicked.connect(self.clear_blocked)
        bridge.on(InputDropped, self._on_dropped)
        bridge.on(SentenceBlocked, self._on_sentence_blocked)

    # --- state -------------------------------------------------------------------------

    def _lists_from_widgets(self) -> ListsState:
        return ListsState(self.blocklist_edit.toPlainText(), self.allowlist_edit.toPlainText(),
                          self.use_default_box.isChecked())

    def _load_lists(self) -> None:
        s = self.ctx.settings.safety
        self._saved_lists = ListsState("\n".join(s.blocklist), "\n".join(s.allowlist),
                                       s.use_default_blocklist)
        self._loading = True
        try:
            self.blocklist_edit.setPlainText(self._saved_lists.blocklist)
            self.allowlist_edit.setPlainText(self._saved_lists.allowlist)
            self.use_default_box.setChecked(self._saved_lists.use_default)
        finally:
            self._loading = False

    def _rules_from_settings(self) -> AnswerRules:
        s = self.ctx.settings.safety
        return AnswerRules(s.answer_mode, s.keyword, s.min_bits, tuple(s.redemptions),
                           s.user_cooldown_s, s.max_age_s, s.chat_min_interval_s)

    def _rules_from_widgets(self) -> AnswerRules:
        return AnswerRules(
            answer_mode=str(self.mode_combo.currentData()),
            keyword=self.keyword_edit.text().strip(),
            min_bits=int(self.min_bits_spin.value()),
            redemptions=parse_redemptions(self.redemptions_edit.toPlainText()),
            user_cooldown_s=round(float(self.cooldown_spin.value()), 1),
            max_age_s=round(float(self.max_age_spin.value()), 1),
            chat_min_interval_s=round(float(self.interval_spin.value()), 1),
        )

    def _set_rules(self, rules: AnswerRules) -> None:
        self._loading = True
        try:
            self.mode_combo.setCurrentIndex(max(0, self.mode_combo.findData(rules.answer_mode)))
            self.keyword_edit.setText(rules.keyword)
            self.min_bits_spin.setValue(rules.min_bits)
            if parse_redemptions(self.redemptions_edit.toPlainText()) != rules.redemptions:
                self.redemptions_edit.setPlainText(", ".join(rules.redemptions))
            self.cooldown_spin.setValue(rules.user_cooldown_s)
            self.max_age_spin.setValue(rules.max_age_s)
            self.interval_spin.setValue(rules.chat_min_interval_s)
        finally:
            self._loading = False
        self._show_mode_hint()

    @property
    def dirty(self) -> bool:
        return (self._lists_from_widgets() != self._saved_lists
                or self._rules_from_widgets() != self._saved_rules)

    def _changed(self) -> None:
        if self._loading:
            return
        dirty = self.dirty
        saving = self._saving is not None and not self._saving.done()
        self.save_button.setEnabled(dirty and not saving)
        self.revert_button.setEnabled(dirty and not saving)
        self.default_warning.setVisible(not self.use_default_box.isChecked())
        if dirty:
            self._show("Unsaved changes.")
        elif self.status.text() == "Unsaved changes.":
            self._show("")
        self._update_test_note()
        if dirty != self._was_dirty:
            self._was_dirty = dirty
            self.dirty_changed.emit(dirty)

    def _show(self, text: str, color: str = "") -> None:
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {color}" if color else "")

    # --- answer rules (live) -------------------------------------------------------------

    def _rules_edited(self) -> None:
        if self._loading:
            return
        self._show_mode_hint()
        self._apply_rules(self._rules_from_widgets())
        self._changed()

    def _apply_rules(self, rules: AnswerRules) -> bool:
        """Write the rules into the live settings object the selector reads; only what changed
        (each assignment is validated)."""
        s = self.ctx.settings.safety
        values = {
            "answer_mode": rules.answer_mode, "keyword": rules.keyword,
            "min_bits": rules.min_bits, "redemptions": list(rules.redemptions),
            "user_cooldown_s": rules.user_cooldown_s, "max_age_s": rules.max_age_s,
            "chat_min_interval_s": rules.chat_min_interval_s,
        }
        for key, value in values.items():
            if getattr(s, key) == value:
                continue
            try:
                setattr(s, key, value)
            except ValueError as exc:  # pydantic's ValidationError is a ValueError
                self._show(f"{key.replace('_', ' ')}: {describe(exc)}", ERROR_COLOR)
                return False
        return True

    def _show_mode_hint(self) -> None:
        mode = str(self.mode_combo.currentData())
        name = self.ctx.settings.persona.name
        keyword = self.keyword_edit.text().strip() or "the keyword"
        hints = {
            "all": "Any chat message may be answered (cooldown and rate limits still apply).",
            "mentions": f"Only messages that mention {name} (or @{name}, or reply to it).",
            "keyword": f"Only messages that use {keyword}, e.g. \"{keyword} what's your "
                       "favourite game?\"",
            "subscribers": "Only messages from subscribers and moderators.",
            "bits": f"Only messages that carry at least {self.min_bits_spin.value()} bits.",
            "redemptions": "Chat messages are not answered; only the channel-point rewards "
                           "listed below.",
        }
        self.mode_hint.setText(hints.get(mode, ""))
        self.keyword_edit.setEnabled(mode == "keyword")
        if mode == "keyword" and not self.keyword_edit.text().strip():
            self.mode_hint.setText("Give a keyword, or every message counts as using it.")
        if mode == "redemptions" and not parse_redemptions(self.redemptions_edit.toPlainText()):
            self.mode_hint.setText("No redemptions are listed: nothing from Twitch will be "
                                   "answered. Add reward names below.")

    # --- save / revert -------------------------------------------------------------------

    def save(self) -> asyncio.Task[bool]:
        """Validate, apply and write; returns the task (True when saved)."""
        if self._saving is not None and not self._saving.done():
            return self._saving
        self._saving = self.tasks.spawn(self._save(), "Saving the safety settings")
        self._changed()
        return self._saving

    async def _save(self) -> bool:
        try:
            ok, message = await self._write()
        finally:
            self._saving = None
        self._changed()
        self._show(message, OK_COLOR if ok else ERROR_COLOR)
        if ok:
            self._test_changed()  # the tester now checks against the new list
        return ok

    async def _write(self) -> tuple[bool, str]:
        lists = self._lists_from_widgets()
        rules = self._rules_from_widgets()
        block = list(dict.fromkeys(read_terms(lists.blocklist)))
        allow = list(dict.fromkeys(read_terms(lists.allowlist)))
        # Parsing a long pasted list is cheap but not free; keep it off the loop.
        problems = await asyncio.to_thread(list_problems, block, allow)
        if rules.answer_mode == "keyword" and not rules.keyword:
            problems.append("Answer mode is 'keyword' but no keyword is given.")
        if problems:
            return False, " ".join(problems)
        if not self._apply_rules(rules):
            return False, self.status.text()
        s = self.ctx.settings.safety
        try:
            s.blocklist = block
            s.allowlist = allow
            s.use_default_blocklist = lists.use_default
            blocklist = self.ctx.reload_blocklist()
            self.ctx.save_settings()
        except Exception as exc:
            return False, f"Could not save: {describe(exc)}"
        self._saved_lists = ListsState("\n".join(block), "\n".join(allow), lists.use_default)
        self._saved_rules = rules
        if self._lists_from_widgets() == lists:
            self._load_lists()  # show the lists as kept: comments and repeats dropped
        return True, (f"Saved. {len(blocklist)} terms are blocked in chat and in what the "
                      "co-host says.")

    def revert(self) -> None:
        """Back to what was last saved, including the answer rules already applied live."""
        self._load_lists()
        self._set_rules(self._saved_rules)
        self._apply_rules(self._saved_rules)
        self._show("")
        self._changed()

    # --- the tester ------------------------------------------------------------------------

    def _test_changed(self, _text: str = "") -> None:
        # One check at a time; a newer line replaces the one waiting, so fast typing never
        # queues up threads and the result always matches the latest text.
        if self._test_task is None or self._test_task.done():
            self._test_task = self.tasks.spawn(self._run_tests(), "Testing a line")

    async def _run_tests(self) -> None:
        while True:
            text = self.test_edit.text()
            blocklist = self.ctx.blocklist
            verdict = await asyncio.to_thread(blocklist.check, text) if text else None
            if text == self.test_edit.text() and blocklist is self.ctx.blocklist:
                self._show_verdict(verdict)
                return

    def _show_verdict(self, verdict: Match | None) -> None:
        if verdict is None:
            self.test_result.setText("")
        elif verdict.allowed:
            self.test_result.setText("Allowed.")
            self.test_result.setStyleSheet(f"color: {OK_COLOR}")
        else:
            self.test_result.setText("Blocked. Matched: " + ", ".join(verdict.matched))
            self.test_result.setStyleSheet(f"color: {ERROR_COLOR}")

    def _update_test_note(self) -> None:
        lists_dirty = self._lists_from_widgets() != self._saved_lists
        self.test_note.setText("Checked against the saved list; save to test your edits."
                               if lists_dirty else "")

    @property
    def test_verdict(self) -> str:
        return self.test_result.text()

    # --- recently blocked ------------------------------------------------------------------

    def _add_blocked(self, wall: float, source: str, who: str, what: str, why: str) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(wall))
        item = QTreeWidgetItem([stamp, source, who, what])
        item.setToolTip(3, f"{what}. {why}")
        self.blocked_list.insertTopLevelItem(0, item)
        while self.blocked_list.topLevelItemCount() > MAX_BLOCKED:
            self.blocked_list.takeTopLevelItem(self.blocked_list.topLevelItemCount() - 1)
        self.blocked_box.setTitle(f"Recently blocked ({self.blocked_list.topLevelItemCount()})")

    def _on_dropped(self, event: object) -> None:
        assert isinstance(event, InputDropped)
        if event.reason != "blocked":
            return
        # Never event.text: a blocked message is not shown, even if one were attached.
        self._add_blocked(event.wall, SOURCE_TITLES.get(event.source, event.source),
                          event.user or HIDDEN_NAME, "Message blocked",
                          "A message matched the blocklist; the co-host did not read it."
                          + ("" if event.user else " The sender's name matched too, so it "
                             "is not shown."))

    def _on_sentence_blocked(self, event: object) -> None:
        assert isinstance(event, SentenceBlocked)
        # Never event.text: the co-host's blocked sentence must not reach the screen.
        matched = f" (matched: {', '.join(event.matched)})" if event.matched else ""
        self._add_blocked(event.wall, "Co-host", self.ctx.settings.persona.name,
                          f"The co-host's own sentence was blocked{matched}",
                          "The sentence was never spoken, and the rest of the reply was "
                          "dropped.")

    def blocked_rows(self) -> list[list[str]]:
        """The rows as shown, newest first."""
        rows = []
        for i in range(self.blocked_list.topLevelItemCount()):
            item = self.blocked_list.topLevelItem(i)
            if item is not None:
                rows.append([item.text(c) for c in range(self.blocked_list.columnCount())])
        return rows

    def clear_blocked(self) -> None:
        self.blocked_list.clear()
        self.blocked_box.setTitle("Recently blocked")
