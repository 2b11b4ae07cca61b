"""A coloured dot and a word: loading, ready, failed, connected, ..."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QWidget

COLORS = {
    "ready": "#3ecf8e", "connected": "#3ecf8e",
    "loading": "#f5c542", "connecting": "#f5c542", "authenticating": "#f5c542",
    "reconnecting": "#f59e0b",
    "failed": "#ef4444",
    "unavailable": "#9ca3af", "disabled": "#9ca3af", "stopped": "#9ca3af",
}


class StatusBadge(QLabel):
    def __init__(self, state: str = "unavailable", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = ""
        self.set_state(state)

    def set_state(self, state: str, detail: str = "") -> None:
        self.state = state
        color = COLORS.get(state, "#9ca3af")
        self.setText(f'<span style="color:{color}">●</span> {state}')
        self.setToolTip(detail or state)
