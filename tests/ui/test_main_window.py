from __future__ import annotations

import tomllib

import pytest
from pytestqt.qtbot import QtBot

from tests.ui.conftest import QLoop
from voxelle_app.core.context import AppContext
from voxelle_app.core.events import InputLevel, StageError
from voxelle_app.ui.main_window import MainWindow


def tab_names(w: MainWindow) -> list[str]:
    return [w.tabs.tabText(i) for i in range(w.tabs.count())]


def test_title_and_panels(window: MainWindow) -> None:
    assert "Voxelle" in window.windowTitle()
    for name in ("Audio", "Persona", "Log"):
        assert name in tab_names(window)
    for i in range(window.tabs.count()):
        window.tabs.setCurrentIndex(i)
        assert window.tabs.currentWidget().isVisible()


def test_persona_edit_save_and_revert(window: MainWindow, ctx: AppContext) -> None:
    panel = window.persona_panel
    original = panel.editor.toPlainText()
    assert "{name}" in original  # loaded from prompts/persona.md
    assert not panel.save_button.isEnabled()
    panel.editor.setPlainText(original + "\nYou adore speedruns.")
    assert panel.dirty and panel.save_button.isEnabled()
    assert window.tabs.tabText(window.tabs.indexOf(panel)).endswith("•")
    panel.save_button.click()
    assert not panel.dirty
    assert ctx.paths.persona_file.read_text().endswith("You adore speedruns.")
    panel.editor.setPlainText("something else entirely")
    panel.revert_button.click()
    assert panel.editor.toPlainText().endswith("You adore speedruns.")
    assert window.tabs.tabText(window.tabs.indexOf(panel)) == "Persona"


def test_persona_validation_blocks_bad_text(window: MainWindow, ctx: AppContext) -> None:
    panel = window.persona_panel
    panel.editor.setPlainText("Hi {viewer_count}")
    assert "Unknown placeholder {viewer_count}" in panel.status.text()
    panel.save_button.click()
    assert not ctx.paths.persona_file.exists()
    panel.editor.setPlainText("   ")
    assert not panel.save()
    assert "empty" in panel.status.text()


def test_persona_name_is_saved_to_settings(window: MainWindow, ctx: AppContext) -> None:
    window.persona_panel.name_edit.setText("Pixel")
    assert window.persona_panel.save()
    data = tomllib.loads(ctx.paths.settings_file.read_text())
    assert data["persona"]["name"] == "Pixel"


def test_errors_show_as_a_sentence_in_the_window(window: MainWindow, ctx: AppContext) -> None:
    ctx.bus.publish(StageError(component="stt", message="The model folder is missing."))
    assert window.banner.isVisible()
    assert "The model folder is missing." in window.banner.label.text()


def test_log_panel_filters_by_category(window: MainWindow) -> None:
    import logging

    logging.getLogger("voxelle.t").warning("integration line", extra={"category": "INTEGRATION"})
    logging.getLogger("voxelle.t").warning("security line", extra={"category": "SECURITY"})
    log = window.log_panel
    assert "integration line" in log.visible_text() and "security line" in log.visible_text()
    log.category.setCurrentIndex(log.category.findData("SECURITY"))
    assert "integration line" not in log.visible_text()
    assert "security line" in log.visible_text()


@pytest.mark.audio
def test_audio_panel_lists_devices_and_meters_real_input(
    window: MainWindow, ctx: AppContext, qloop: QLoop, pulse: None
) -> None:
    levels: list[InputLevel] = []
    ctx.bus.subscribe(InputLevel, levels.append)
    qloop.run(window.start())
    panel = window.audio_panel
    qloop.wait_until(lambda: panel.input_combo.count() > 1 and panel.output_combo.count() > 1)
    qloop.wait_until(lambda: len(levels) > 5)
    assert window.mic_badge.state == "ready" and window.out_badge.state == "ready"
    ctx.audio.play_test_tone()
    assert ctx.audio.playback.busy
    qloop.wait_until(lambda: not ctx.audio.playback.busy)
    qloop.run(window.shutdown())


def test_close_stops_everything_and_saves(
    window: MainWindow, ctx: AppContext, qloop: QLoop, qtbot: QtBot
) -> None:
    window.tabs.setCurrentIndex(2)
    run = qloop.loop.create_task(window.run())
    qloop.sleep(0.2)
    window.close()
    qloop.run(run, timeout=30)
    assert len(window.tasks) == 0
    assert ctx.audio.capture is None and ctx.audio.output is None
    assert tomllib.loads(ctx.paths.settings_file.read_text())["ui"]["last_tab"] == 2
