"""Log panel: live log lines with category and level filters."""

from __future__ import annotations

import collections
import time

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from voxelle_app.core.events import LogLine
from voxelle_app.core.logs import Category
from voxelle_app.ui.bridge import Bridge

LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
MAX_LINES = 2000


class LogPanel(QWidget):
    def __init__(self, bridge: Bridge, log_file: str) -> None:
        super().__init__()
        self.lines: collections.deque[LogLine] = collections.deque(maxlen=MAX_LINES)
        self.category = QComboBox()
        self.category.addItem("All categories", "")
        for c in Category:
            self.category.addItem(c.value, c.value)
        self.level = QComboBox()
        for lvl in LEVELS:
            self.level.addItem(f"{lvl} and above", lvl)
        self.level.setCurrentIndex(1)
        self.view = QPlainTextEdit()
        self.view.setReadOnly(True)
        self.view.setMaximumBlockCount(MAX_LINES)
        top = QHBoxLayout()
        top.addWidget(QLabel("Show"))
        top.addWidget(self.category)
        top.addWidget(self.level)
        top.addStretch(1)
        where = QLabel(f"Log file: {log_file}")
        where.setStyleSheet("color: #9ca3af")
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        layout.addWidget(where)
        self.category.currentIndexChanged.connect(self._refilter)
        self.level.currentIndexChanged.connect(self._refilter)
        bridge.on(LogLine, self._on_line)

    def _accepts(self, line: LogLine) -> bool:
        category = self.category.currentData()
        min_level = LEVELS.index(self.level.currentData())
        level = LEVELS.index(line.level) if line.level in LEVELS else 1
        return (not category or line.category == category) and level >= min_level

    @staticmethod
    def _format(line: LogLine) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(line.wall))
        return f"{stamp} {line.level:<7} {line.category:<11} {line.message}"

    def _on_line(self, event: object) -> None:
        assert isinstance(event, LogLine)
        self.lines.append(event)
        if self._accepts(event):
            self.view.appendPlainText(self._format(event))

    def _refilter(self) -> None:
        self.view.setPlainText("\n".join(self._format(x) for x in self.lines if self._accepts(x)))

    def visible_text(self) -> str:
        return self.view.toPlainText()
