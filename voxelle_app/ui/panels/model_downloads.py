"""Downloads panel: the manifest's models with size, state, a progress bar, Cancel and Delete.

Downloads run in worker threads (``ModelManager.download`` blocks); their progress comes back
to the UI thread through ``loop.call_soon_threadsafe``, so the window never waits on the
network or the disk. A cancelled download keeps its partial file and resumes next time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from voxelle_app.core.errors import describe
from voxelle_app.core.models import (
    DownloadCancelled,
    ModelEntry,
    ModelManager,
    ModelStatus,
    format_size,
)
from voxelle_app.ui.tasks import TaskKeeper

_log = logging.getLogger("voxelle.ui")

KIND_LABELS = {"stt": "Speech to text", "llm": "Language model", "tts": "Voice"}
COLUMNS = ("Model", "Kind", "Size", "Memory", "Licence", "Status", "Progress", "")
COL_STATUS, COL_PROGRESS, COL_ACTIONS = 5, 6, 7
BAR_STEPS = 1000  # QProgressBar holds an int: bytes of a 1 GB model would overflow it


class ModelRow:
    """The widgets of one model's row, and its download in flight."""

    def __init__(self, entry: ModelEntry) -> None:
        self.entry = entry
        self.status_item = QTableWidgetItem("")
        self.progress = QProgressBar()
        self.progress.setRange(0, BAR_STEPS)
        self.progress.setTextVisible(True)
        self.progress.setAccessibleName(f"{entry.name} download progress")
        self.download_button = QPushButton("Download")
        self.cancel_button = QPushButton("Cancel")
        self.delete_button = QPushButton("Delete")
        for button, verb in ((self.download_button, "Download"), (self.cancel_button, "Cancel"),
                             (self.delete_button, "Delete")):
            button.setAccessibleName(f"{verb} {entry.name}")
        self.actions = QWidget()
        row = QHBoxLayout(self.actions)
        row.setContentsMargins(2, 0, 2, 0)
        for button in (self.download_button, self.cancel_button, self.delete_button):
            row.addWidget(button)
        self.state = "available"
        self.cancel = threading.Event()
        self.task: asyncio.Task[Any] | None = None
        self.path: Path | None = None

    @property
    def busy(self) -> bool:
        return self.task is not None and not self.task.done()

    def show(self, state: str, text: str, detail: str = "") -> None:
        self.state = state
        self.status_item.setText(text)
        self.status_item.setToolTip(detail or text)
        downloading = state in ("downloading", "cancelling")
        self.download_button.setEnabled(state in ("available", "partial", "failed"))
        self.download_button.setText("Resume" if state == "partial" else "Download")
        self.cancel_button.setEnabled(state == "downloading")
        self.delete_button.setEnabled(not downloading and state in ("installed", "partial", "failed"))
        self.progress.setVisible(state != "available")

    def set_progress(self, done: int, total: int) -> None:
        if total > 0:
            self.progress.setRange(0, BAR_STEPS)
            self.progress.setValue(min(BAR_STEPS, done * BAR_STEPS // total))
            self.progress.setFormat(f"{format_size(done)} of {format_size(total)}")
        else:
            self.progress.setRange(0, 0)  # size unknown yet: a busy bar


class ModelDownloadsPanel(QWidget):
    """Lists downloadable models; emits ``model_installed(name, kind, path)`` when one is ready.

    ``path`` is what settings point at: the folder (stt), the .gguf (llm) or the .onnx (tts).
    Call ``shutdown()`` before the window closes so running downloads pause cleanly.
    """

    model_installed = Signal(str, str, str)
    model_removed = Signal(str)

    def __init__(
        self, manager: ModelManager, tasks: TaskKeeper | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.manager = manager
        self.tasks = tasks
        self._own_tasks: set[asyncio.Task[Any]] = set()
        self.confirm_delete = True
        self.rows: dict[str, ModelRow] = {}

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_STATUS, QHeaderView.ResizeMode.Stretch)
        self.message = QLabel(
            f"Models are saved in {manager.models_dir}. Downloads resume where they stopped; "
            "every file is checked against its checksum before use."
        )
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.message)
        for status in manager.list():
            self._add_row(status)

    # --- rows ----------------------------------------------------------------------------

    def _add_row(self, status: ModelStatus) -> None:
        entry = status.entry
        row = ModelRow(entry)
        index = self.table.rowCount()
        self.table.insertRow(index)
        tip = "\n".join(t for t in (entry.description, entry.speed, f"Source: {entry.source}") if t)
        cells = (
            entry.name,
            KIND_LABELS[entry.kind],
            entry.display_size,
            f"{entry.ram_mb} MB" if entry.ram_mb else "?",
            entry.license,
        )
        for column, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setToolTip(tip if column == 0 else text)
            self.table.setItem(index, column, item)
        self.table.setItem(index, COL_STATUS, row.status_item)
        self.table.setCellWidget(index, COL_PROGRESS, row.progress)
        self.table.setCellWidget(index, COL_ACTIONS, row.actions)
        name = entry.name
        row.download_button.clicked.connect(lambda: self.download(name))
        row.cancel_button.clicked.connect(lambda: self.cancel(name))
        row.delete_button.clicked.connect(lambda: self.delete(name))
        self.rows[name] = row
        self._show_status(row, status)

    def _show_status(self, row: ModelRow, status: ModelStatus) -> None:
        row.path = status.path
        if status.state == "installed":
            row.set_progress(1, 1)
            row.show("installed", "Installed", str(status.path))
        elif status.state == "partial":
            row.set_progress(status.partial_bytes, status.entry.size_bytes)
            row.show("partial", f"Paused: {format_size(status.partial_bytes)} kept")
        else:
            row.set_progress(0, 1)
            row.show("available", "Not downloaded")

    def refresh(self) -> None:
        """Re-read what is on disk (after a download elsewhere, e.g. from the command line)."""
        for name, row in self.rows.items():
            if not row.busy:
                self._show_status(row, self.manager.status(name))

    # --- actions -------------------------------------------------------------------------

    def download(self, name: str) -> asyncio.Task[Any]:
        row = self.rows[name]
        if row.busy:
            assert row.task is not None
            return row.task
        row.cancel = threading.Event()
        row.show("downloading", "Connecting…")
        row.task = self._spawn(self._download(name, row), f"Downloading {name}")
        return row.task

    def cancel(self, name: str) -> None:
        row = self.rows[name]
        if row.busy:
            row.cancel.set()
            row.show("cancelling", "Pausing…")

    def delete(self, name: str) -> asyncio.Task[Any] | None:
        """Delete at once, or (``confirm_delete``) after a non-modal question.

        The question is opened with ``open()``, not ``exec()``: a nested Qt event loop would
        run asyncio callbacks re-entrantly under qasync.
        """
        row = self.rows[name]
        if row.busy:
            return None
        if not self.confirm_delete:
            return self._start_delete(name, row)
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Delete model",
            f"Delete {name} from this computer? You can download it again later.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            self,
        )
        box.setDefaultButton(QMessageBox.StandardButton.No)

        def answered(result: int) -> None:
            if result == QMessageBox.StandardButton.Yes and not row.busy:
                self._start_delete(name, row)
            box.deleteLater()

        box.finished.connect(answered)
        box.open()
        return None

    def _start_delete(self, name: str, row: ModelRow) -> asyncio.Task[Any]:
        row.task = self._spawn(self._delete(name, row), f"Deleting {name}")
        return row.task

    async def shutdown(self) -> None:
        """Pause every running download (partials are kept) and wait for the workers."""
        running = [row for row in self.rows.values() if row.busy]
        for row in running:
            row.cancel.set()
        await asyncio.gather(*(row.task for row in running if row.task), return_exceptions=True)

    # --- workers -------------------------------------------------------------------------

    async def _download(self, name: str, row: ModelRow) -> None:
        loop = asyncio.get_running_loop()
        cancel = row.cancel

        def progress(done: int, total: int) -> None:  # runs in the download thread
            with contextlib.suppress(RuntimeError):  # the loop closed: the app is quitting
                loop.call_soon_threadsafe(self._on_progress, row, done, total)

        try:
            path = await asyncio.to_thread(self.manager.download, name, progress, cancel)
        except DownloadCancelled:
            self._show_status(row, self.manager.status(name))
            return
        except asyncio.CancelledError:
            cancel.set()  # the thread cannot be cancelled from here; tell it to stop
            raise
        except Exception as exc:
            text = describe(exc)
            _log.warning("Download of %s failed: %s", name, text)
            status = self.manager.status(name)
            row.path = None
            row.show("failed", f"Failed: {text}", text)
            if status.partial_bytes:
                row.set_progress(status.partial_bytes, status.entry.size_bytes)
            self.message.setText(text)
            return
        row.path = path
        row.set_progress(1, 1)
        row.show("installed", "Installed", str(path))
        self.model_installed.emit(name, row.entry.kind, str(path))

    def _on_progress(self, row: ModelRow, done: int, total: int) -> None:
        if row.state != "downloading":
            return
        with contextlib.suppress(RuntimeError):  # the widget is gone
            row.set_progress(done, total)
            if total:
                row.status_item.setText(f"Downloading… {100 * done // total} %")

    async def _delete(self, name: str, row: ModelRow) -> None:
        row.show("deleting", "Deleting…")
        try:
            await asyncio.to_thread(self.manager.remove, name)
        except Exception as exc:
            self.message.setText(describe(exc))
        self._show_status(row, self.manager.status(name))
        if row.state == "available":
            self.model_removed.emit(name)

    def _spawn(self, coro: Coroutine[Any, Any, None], what: str) -> asyncio.Task[Any]:
        if self.tasks is not None:
            return self.tasks.spawn(coro, what)
        task = asyncio.ensure_future(coro)
        self._own_tasks.add(task)
        task.add_done_callback(self._own_tasks.discard)
        return task
