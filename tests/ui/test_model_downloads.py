"""The downloads panel drives real downloads from a local Hub server without freezing the UI."""

from __future__ import annotations

import gc
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import huggingface_hub.constants
import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QTimer
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from tests.fake_hf import FakeHub, Served
from tests.ui.conftest import QLoop
from voxelle_app.core.models import ModelManager
from voxelle_app.ui.panels.model_downloads import BAR_STEPS, ModelDownloadsPanel

VOICE = os.urandom(400_000)
VOICE_JSON = b'{"audio": {"sample_rate": 22050}}'
WEIGHTS = os.urandom(100_000)


@pytest.fixture(autouse=True)
def hub_online(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)


@pytest.fixture(autouse=True)
def collect_on_this_thread() -> Iterator[None]:
    """Collect each test's Qt garbage (qasync's closed loop holds timer QObjects) here, on the
    UI thread, rather than whenever a download thread happens to trigger the collector."""
    yield
    gc.collect()


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    with FakeHub(chunk=8 * 1024) as h:
        h.add("rhasspy/piper-voices", "en/en_US/test/medium/en_US-test-medium.onnx", VOICE)
        h.add("rhasspy/piper-voices", "en/en_US/test/medium/en_US-test-medium.onnx.json", VOICE_JSON)
        h.add("acme/tiny-GGUF", "tiny.gguf", WEIGHTS)
        yield h


@pytest.fixture
def manager(hub: FakeHub, tmp_path: Path) -> ModelManager:
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(f"""
schema_version = 1

[[model]]
name = "piper-test"
kind = "tts"
description = "a test voice"
source = "hf://rhasspy/piper-voices/en/en_US/test/medium@main"
license = "MIT"
approx_mb = 1
ram_mb = 150
  [[model.files]]
  path = "en_US-test-medium.onnx"
  sha256 = "{hashlib.sha256(VOICE).hexdigest()}"
  [[model.files]]
  path = "en_US-test-medium.onnx.json"

[[model]]
name = "tiny-llm"
kind = "llm"
source = "hf://acme/tiny-GGUF@main"
license = "Apache-2.0"
  [[model.files]]
  path = "tiny.gguf"
""")
    return ModelManager(tmp_path / "models", manifest, hub.endpoint)


@pytest.fixture
def panel(manager: ModelManager, qtbot: QtBot, qloop: QLoop) -> Iterator[ModelDownloadsPanel]:
    p = ModelDownloadsPanel(manager)
    p.confirm_delete = False
    p.resize(1000, 300)
    p.show()
    yield p
    qloop.run(p.shutdown())
    p.close()
    p.deleteLater()
    # Delete it now, on this thread: left to the garbage collector, a QWidget can be
    # destroyed from whichever thread happens to collect it (Qt warns about its timers).
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def test_lists_manifest_models(panel: ModelDownloadsPanel) -> None:
    assert list(panel.rows) == ["piper-test", "tiny-llm"]
    assert panel.table.rowCount() == 2
    def cell(row: int, column: int) -> str:
        item = panel.table.item(row, column)
        return item.text() if item is not None else ""

    assert cell(0, 1) == "Voice"
    assert cell(1, 1) == "Language model"
    assert cell(0, 3) == "150 MB"
    row = panel.rows["piper-test"]
    assert row.status_item.text() == "Not downloaded"
    assert row.download_button.isEnabled()
    assert not row.cancel_button.isEnabled() and not row.delete_button.isEnabled()


def test_download_shows_progress_without_blocking_the_ui(
    panel: ModelDownloadsPanel, hub: FakeHub, qloop: QLoop
) -> None:
    hub.delay = 0.02  # about a second for the voice: long enough to watch
    row = panel.rows["piper-test"]
    # A Qt timer samples the bar: it only fires if the UI thread is free while bytes arrive.
    sampled: list[int] = []
    timer = QTimer(panel)
    timer.timeout.connect(lambda: sampled.append(row.progress.value()))
    timer.start(10)
    installed: list[tuple[str, str, str]] = []
    panel.model_installed.connect(lambda *a: installed.append(a))

    row.download_button.click()
    qloop.wait_until(lambda: 0 < row.progress.value() < BAR_STEPS, timeout=20)
    assert row.progress.isVisible()
    assert row.state == "downloading" and "Downloading" in row.status_item.text()
    assert row.cancel_button.isEnabled() and not row.download_button.isEnabled()

    qloop.wait_until(lambda: row.state == "installed", timeout=30)
    timer.stop()
    midway = {v for v in sampled if 0 < v < BAR_STEPS}
    assert len(midway) >= 3, sampled  # the bar moved in steps the UI had time to draw
    assert row.progress.value() == BAR_STEPS
    path = panel.manager.path_of("piper-test")
    assert path.read_bytes() == VOICE
    assert installed == [("piper-test", "tts", str(path))]
    assert row.status_item.text() == "Installed"
    assert row.delete_button.isEnabled() and not row.download_button.isEnabled()


def test_cancel_then_resume(panel: ModelDownloadsPanel, hub: FakeHub, qloop: QLoop) -> None:
    hub.delay = 0.01
    row = panel.rows["piper-test"]
    row.download_button.click()
    qloop.wait_until(lambda: row.progress.value() > 50, timeout=20)

    row.cancel_button.click()
    qloop.wait_until(lambda: row.state == "partial", timeout=20)
    assert row.status_item.text().startswith("Paused")
    assert row.download_button.text() == "Resume"
    kept = panel.manager.status("piper-test").partial_bytes
    assert 0 < kept < len(VOICE)

    hub.delay = 0.0
    row.download_button.click()
    qloop.wait_until(lambda: row.state == "installed", timeout=30)
    assert hub.gets("/blobs/")[-1].headers["Range"] == f"bytes={kept}-"
    assert panel.manager.path_of("piper-test").read_bytes() == VOICE


def test_failure_is_shown_in_the_row(panel: ModelDownloadsPanel, hub: FakeHub, qloop: QLoop) -> None:
    served: Served = hub.add("acme/tiny-GGUF", "tiny.gguf", WEIGHTS)
    served.tamper = bytes(len(WEIGHTS))
    row = panel.rows["tiny-llm"]
    row.download_button.click()
    qloop.wait_until(lambda: row.state == "failed", timeout=20)
    assert "checksum" in row.status_item.text()
    assert "checksum" in panel.message.text()
    assert row.download_button.isEnabled()  # try again


def test_delete(panel: ModelDownloadsPanel, qloop: QLoop) -> None:
    removed: list[str] = []
    panel.model_removed.connect(removed.append)
    row = panel.rows["tiny-llm"]
    qloop.run(panel.download("tiny-llm"))
    assert row.state == "installed"

    task = panel.delete("tiny-llm")
    assert task is not None
    qloop.run(task)
    assert row.state == "available" and row.status_item.text() == "Not downloaded"
    assert removed == ["tiny-llm"]
    assert not panel.manager.is_installed("tiny-llm")


def test_delete_asks_first(panel: ModelDownloadsPanel, qloop: QLoop) -> None:
    row = panel.rows["tiny-llm"]
    qloop.run(panel.download("tiny-llm"))
    panel.confirm_delete = True

    row.delete_button.click()
    box = panel.findChild(QMessageBox)
    assert box is not None and box.isVisible()
    no = box.button(QMessageBox.StandardButton.No)
    assert no is not None
    no.click()
    qloop.sleep(0.05)
    assert row.state == "installed"

    row.delete_button.click()
    box = [b for b in panel.findChildren(QMessageBox) if b.isVisible()][0]
    yes = box.button(QMessageBox.StandardButton.Yes)
    assert yes is not None
    yes.click()
    qloop.wait_until(lambda: row.state == "available")
    assert not panel.manager.is_installed("tiny-llm")
