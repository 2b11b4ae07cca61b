"""Bus events → Qt signals on the main thread.

The bus already dispatches on the loop thread, which is Qt's main thread under qasync, so
the bridge only turns each event into a signal that widgets connect to. Widgets never
subscribe to the bus themselves, so tearing the window down unsubscribes everything at once.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from voxelle_app.core.bus import EventBus
from voxelle_app.core.events import Event


class Bridge(QObject):
    received = Signal(object)

    def __init__(self, bus: EventBus, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._unsubscribe: list[Callable[[], None]] = [bus.subscribe(Event, self.received.emit)]

    def on(self, event_type: type, slot: Callable[[object], None]) -> None:
        """Call ``slot`` for events of ``event_type`` only."""
        self.received.connect(lambda e: slot(e) if isinstance(e, event_type) else None)

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
