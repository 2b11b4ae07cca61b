from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer

from tests.ui.conftest import QLoop
from voxelle_app.core.context import AppContext
from voxelle_app.ui.main_window import MainWindow

pytestmark = pytest.mark.models




def test_window_keeps_processing_events_while_models_load(window: MainWindow, qloop: QLoop) -> None:
    ticks: list[int] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(5)
    ctx: AppContext = window.ctx
    panel = window.models_panel

    async def load_both() -> tuple[bool, bool]:
        stt = qloop.loop.create_task(ctx.hearing.load())
        tts = qloop.loop.create_task(ctx.voice.load())
        while not (stt.done() and tts.done()):
            if "loading" in (ctx.hearing.state, ctx.voice.state):
                assert panel.stt_badge.state == "loading" or panel.tts_badge.state == "loading"
            await asyncio.sleep(0.001)
        return stt.result(), tts.result()

    before = len(ticks)
    assert qloop.run(load_both()) == (True, True)
    timer.stop()
    # Qt timers fired while both models loaded: loading did not hold the UI thread.
    assert len(ticks) - before >= 3
    assert panel.stt_badge.state == "ready" and panel.tts_badge.state == "ready"


def test_bad_model_choice_shows_the_reason(window: MainWindow, qloop: QLoop, tmp_path: Path) -> None:
    panel = window.models_panel
    panel.stt_combo.insertItem(0, "broken", str(tmp_path))
    panel.stt_combo.setCurrentIndex(0)
    panel._stt_changed()
    qloop.wait_until(lambda: panel.stt_badge.state == "failed")
    assert "not a CTranslate2 Whisper model" in panel.stt_detail.text()


def test_effect_editor_drives_the_live_chain(window: MainWindow, qloop: QLoop) -> None:
    panel = window.models_panel
    editor = panel.effects
    editor.preset.setCurrentIndex(editor.preset.findData("radio"))
    assert [s.kind for s in window.ctx.voice.effects.specs] == ["highpass", "lowpass", "distortion", "gain"]
    editor.add_kind.setCurrentIndex(editor.add_kind.findData("reverb"))
    editor.add_button.click()
    assert window.ctx.voice.effects.specs[-1].kind == "reverb"
    assert window.ctx.settings.effects.presets["radio"][-1].kind == "reverb"
    editor.rows[0].enabled.setChecked(False)
    assert window.ctx.voice.effects.specs[0].enabled is False
    editor.save_preset("my radio")
    assert window.ctx.settings.effects.preset == "my radio"
    assert len(window.ctx.settings.effects.presets["my radio"]) == 5


@pytest.mark.audio
def test_sample_line_plays_and_stt_test_hears_it(window: MainWindow, qloop: QLoop, pulse: None) -> None:
    qloop.run(window.start(), timeout=60)
    ctx = window.ctx
    qloop.wait_until(lambda: ctx.voice.ready and ctx.hearing.ready, timeout=60)
    ctx.settings.audio.listen_mode = "muted"  # keep the test line out of the conversation
    window.models_panel.tts_test.click()
    qloop.wait_until(lambda: ctx.audio.playback.busy, timeout=30)
    qloop.wait_until(lambda: not ctx.audio.playback.busy, timeout=30)
    qloop.sleep(0.5)
    window.models_panel.stt_test.click()
    qloop.wait_until(lambda: window.models_panel.stt_result.text() not in ("", "Listening back…"), 60)
    heard = window.models_panel.stt_result.text().lower()
    assert "voice" in heard or "co-host" in heard or "chat" in heard, heard
