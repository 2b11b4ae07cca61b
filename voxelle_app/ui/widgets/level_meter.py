"""A horizontal level meter (dBFS) with a peak hold."""

from __future__ import annotations

import math

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

FLOOR_DB = -60.0


def to_fraction(amplitude: float) -> float:
    if amplitude <= 1e-6:
        return 0.0
    db = 20 * math.log10(amplitude)
    return max(0.0, min(1.0, (db - FLOOR_DB) / -FLOOR_DB))


class LevelMeter(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rms = 0.0
        self.peak = 0.0
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("Input level")

    def sizeHint(self) -> QSize:
        return QSize(240, 18)

    def set_level(self, rms: float, peak: float) -> None:
        self.rms = to_fraction(rms)
        self.peak = max(to_fraction(peak), self.peak * 0.92)
        self.setToolTip(f"{20 * math.log10(max(rms, 1e-6)):.0f} dBFS")
        self.update()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor("#1d2026"))
        p.drawRoundedRect(r, 4, 4)
        fill = QRectF(r.left(), r.top(), r.width() * self.rms, r.height())
        color = "#3ecf8e" if self.rms < 0.75 else ("#f5c542" if self.rms < 0.92 else "#ef4444")
        p.setBrush(QColor(color))
        p.drawRoundedRect(fill, 4, 4)
        x = r.left() + r.width() * self.peak
        p.setPen(QColor("#e5e7eb"))
        p.drawLine(int(x), int(r.top()), int(x), int(r.bottom()))
