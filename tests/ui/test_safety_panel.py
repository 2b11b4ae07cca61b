"""The safety panel, offscreen, on a real AppContext: its lists drive the real matcher that
guards chat and speech, and its answer rules drive the real input selector."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from tests.ui.conftest import QLoop
from voxelle_app.core.context import AppContext
from voxelle_app.core.events import ChatMessage, InputDropped, SentenceBlocked
from voxelle_app.core.safety import default_terms
from voxelle_app.ui.bridge import Bridge
from voxelle_app.ui.panels.safety import HIDDEN_NAME, MAX_BLOCKED, SafetyPanel
from voxelle_app.ui.tasks import TaskKeeper

TERM = "zorblax"  # made up, so the test neither needs nor prints a real slur
SECRET = "this exact wording must never reach the screen"






@pytest.fixture
def panel(ctx: AppContext, qloop: QLoop, qtbot: QtBot, errors: list[str]) -> Iterator[SafetyPanel]:
    bridge = Bridge(ctx.bus)
    tasks = TaskKeeper(errors.append)
    p = SafetyPanel(ctx, bridge, tasks)
    p.resize(1100, 700)
    p.show()
    yield p
    qloop.run(tasks.cancel_all())
    bridge.close()
    p.close()
    p.deleteLater()


def saved_safety(ctx: AppContext) -> dict[str, object]:
    return tomllib.loads(ctx.paths.settings_file.read_text(encoding="utf-8"))["safety"]


def all_visible_text(panel: SafetyPanel) -> str:
    texts = [label.text() for label in panel.findChildren(QLabel)]
    for row in range(panel.blocked_list.topLevelItemCount()):
        item = panel.blocked_list.topLevelItem(row)
        assert item is not None
        for column in range(panel.blocked_list.columnCount()):
            texts += [item.text(column), item.toolTip(column)]
    return "\n".join(texts)


def test_saving_the_list_blocks_a_new_term_and_its_disguises(
    panel: SafetyPanel, ctx: AppContext, qloop: QLoop
) -> None:
    dirty: list[bool] = []
    panel.dirty_changed.connect(dirty.append)
    assert ctx.blocklist.check(f"say {TERM}").allowed
    assert not panel.save_button.isEnabled()

    panel.blocklist_edit.setPlainText(f"{TERM}   # a word from my community\n\n{TERM}\n")
    assert panel.dirty and panel.save_button.isEnabled() and panel.revert_button.isEnabled()
    assert "Unsaved" in panel.status.text()
    assert dirty == [True]
    assert ctx.blocklist.check(TERM).allowed  # nothing applies before Save

    assert qloop.run(panel.save()) is True
    assert not panel.dirty and dirty == [True, False]
    assert "Saved" in panel.status.text()
    for disguise in (TERM, "ZORBLAX!", "z.o.r.b.l.a.x", "z o r b l a x", "z0rbl4x",
                     "zorrrrblax", "ｚｏｒｂｌａｘ", "zörbláx", "zor\u200bblax"):
        verdict = ctx.blocklist.check(f"well {disguise} to you")
        assert not verdict.allowed, disguise
        assert verdict.matched == (TERM,)
    # The same new list guards what the co-host says, not only what it reads.
    assert ctx.director.check_sentence is not None
    assert not ctx.director.check_sentence(f"I think {TERM}.")[0]
    # Kept once, without the comment, in the file and in the editor.
    assert saved_safety(ctx)["blocklist"] == [TERM]
    assert panel.blocklist_edit.toPlainText() == TERM

    # Revert brings back the saved list after an edit.
    panel.blocklist_edit.setPlainText("something else")
    panel.revert_button.click()
    assert panel.blocklist_edit.toPlainText() == TERM and not panel.dirty


def test_lists_that_cannot_work_are_refused(panel: SafetyPanel, ctx: AppContext,
                                            qloop: QLoop) -> None:
    before = ctx.blocklist
    panel.blocklist_edit.setPlainText(f"{TERM}\nx")
    assert qloop.run(panel.save()) is False
    assert "'x' is too short" in panel.status.text()
    assert ctx.blocklist is before and saved_safety(ctx)["blocklist"] == []

    panel.blocklist_edit.setPlainText(TERM)
    panel.allowlist_edit.setPlainText(TERM.upper())
    assert qloop.run(panel.save()) is False
    assert "both lists" in panel.status.text()
    assert ctx.blocklist is before and panel.dirty and panel.save_button.isEnabled()


def test_allowlist_and_default_list(panel: SafetyPanel, ctx: AppContext, qloop: QLoop) -> None:
    shipped = default_terms()[0].strip("*")
    assert not ctx.blocklist.check(shipped).allowed
    assert panel.use_default_box.isChecked() and panel.default_warning.isHidden()

    panel.use_default_box.setChecked(False)
    assert panel.default_warning.isVisible() and panel.dirty
    panel.blocklist_edit.setPlainText(TERM)
    panel.allowlist_edit.setPlainText(f"{TERM} the great")
    assert qloop.run(panel.save()) is True
    assert ctx.blocklist.check(shipped).allowed
    assert not ctx.blocklist.check(f"a {TERM}").allowed
    assert ctx.blocklist.check(f"all hail {TERM} the great").allowed
    saved = saved_safety(ctx)
    assert saved["use_default_blocklist"] is False
    assert saved["allowlist"] == [f"{TERM} the great"]

    panel.use_default_box.setChecked(True)
    assert qloop.run(panel.save()) is True
    assert not ctx.blocklist.check(shipped).allowed


def test_tester_shows_the_verdict_as_you_type(panel: SafetyPanel, ctx: AppContext,
                                              qloop: QLoop, qtbot: QtBot) -> None:
    qtbot.keyClicks(panel.test_edit, f"hi {TERM}")
    qloop.wait_until(lambda: panel.test_verdict == "Allowed.")
    panel.blocklist_edit.setPlainText(TERM)
    assert "save to test your edits" in panel.test_note.text()

    assert qloop.run(panel.save()) is True
    # The tester re-checks the same line against the new list by itself.
    qloop.wait_until(lambda: panel.test_verdict.startswith("Blocked"))
    assert TERM in panel.test_verdict and panel.test_note.text() == ""

    panel.test_edit.clear()
    qtbot.keyClicks(panel.test_edit, "Z 0 R B L A X and y0u")
    qloop.wait_until(lambda: panel.test_verdict == f"Blocked. Matched: {TERM}")
    qtbot.keyClick(panel.test_edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(panel.test_edit, "a classy assessment")
    qloop.wait_until(lambda: panel.test_verdict == "Allowed.")


def test_blocked_inputs_and_sentences_are_listed_without_their_text(
    panel: SafetyPanel, ctx: AppContext, qloop: QLoop
) -> None:
    panel.blocklist_edit.setPlainText(TERM)
    assert qloop.run(panel.save()) is True
    ctx.settings.safety.answer_mode = "all"

    # A real chat message through the real selector: blocked, published on the bus.
    decision = ctx.selector.offer(ChatMessage(platform="twitch", user="troll42",
                                              text=f"{SECRET} {TERM}"))
    assert decision.reason == "blocked"
    # A message dropped for another reason is not a blocked one.
    ctx.bus.publish(InputDropped(source="discord", user="fan", text="hi", reason="cooldown"))
    # Even if some publisher attached text to a blocked drop, the panel must not show it.
    ctx.bus.publish(InputDropped(source="discord", user="", text=SECRET, reason="blocked"))
    ctx.bus.publish(SentenceBlocked(turn_id=7, text=f"{SECRET} {TERM}", matched=(TERM,)))
    qloop.wait_until(lambda: panel.blocked_list.topLevelItemCount() == 3)

    rows = panel.blocked_rows()  # newest first
    assert rows[0][1] == "Co-host" and "own sentence was blocked" in rows[0][3]
    assert TERM in rows[0][3]
    assert rows[1][1:3] == ["Discord", HIDDEN_NAME]
    assert rows[2][1:3] == ["Twitch", "troll42"] and "blocked" in rows[2][3]
    assert all(row[0].count(":") == 2 for row in rows)  # a time of day
    assert SECRET not in all_visible_text(panel)
    assert "(3)" in panel.blocked_box.title()

    for i in range(MAX_BLOCKED + 5):
        ctx.bus.publish(InputDropped(source="twitch", user=f"u{i}", text="", reason="blocked"))
    qloop.wait_until(lambda: panel.blocked_rows()[0][2] == f"u{MAX_BLOCKED + 4}")
    assert panel.blocked_list.topLevelItemCount() == MAX_BLOCKED
    panel.clear_blocked_button.click()
    assert panel.blocked_list.topLevelItemCount() == 0


def test_answer_rules_apply_live_save_and_revert(panel: SafetyPanel, ctx: AppContext,
                                                 qloop: QLoop) -> None:
    s = ctx.settings.safety
    assert s.answer_mode == "mentions" and not panel.keyword_edit.isEnabled()
    panel.mode_combo.setCurrentIndex(panel.mode_combo.findData("keyword"))
    assert s.answer_mode == "keyword" and panel.keyword_edit.isEnabled()
    panel.keyword_edit.setText("!vox")
    panel.cooldown_spin.setValue(12)
    panel.max_age_spin.setValue(45)
    panel.interval_spin.setValue(8)
    panel.min_bits_spin.setValue(250)
    panel.redemptions_edit.setPlainText("Hydrate, Song request\nShout out,\n")
    assert (s.keyword, s.user_cooldown_s, s.max_age_s, s.chat_min_interval_s, s.min_bits) == (
        "!vox", 12.0, 45.0, 8.0, 250)
    assert s.redemptions == ["Hydrate", "Song request", "Shout out"]
    assert panel.dirty

    # The running selector follows at once, before any Save.
    assert ctx.selector.offer(ChatMessage(platform="twitch", user="a", text="hello")).reason \
        == "answer_mode"
    accepted = ctx.selector.offer(ChatMessage(platform="twitch", user="b", text="!vox hi there"))
    assert accepted.accepted

    assert qloop.run(panel.save()) is True
    saved = saved_safety(ctx)
    assert saved["answer_mode"] == "keyword" and saved["keyword"] == "!vox"
    assert saved["redemptions"] == ["Hydrate", "Song request", "Shout out"]
    assert saved["user_cooldown_s"] == 12.0 and not panel.dirty

    panel.mode_combo.setCurrentIndex(panel.mode_combo.findData("all"))
    panel.cooldown_spin.setValue(0)
    assert s.answer_mode == "all" and panel.dirty
    panel.revert()
    assert s.answer_mode == "keyword" and s.user_cooldown_s == 12.0
    assert panel.mode_combo.currentData() == "keyword" and not panel.dirty

    panel.keyword_edit.setText("")
    assert qloop.run(panel.save()) is False
    assert "no keyword" in panel.status.text()
    assert saved_safety(ctx)["keyword"] == "!vox"
