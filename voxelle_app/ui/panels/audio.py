"""Audio panel: input and output pickers filled from real devices, a live input meter, a test tone."""

from __future__ import annotations

import asyncio

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QKeySequenceEdit,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from voxelle_app.core.audio.devices import DeviceInfo, list_devices
from voxelle_app.core.context import AppContext
from voxelle_app.core.errors import describe
from voxelle_app.core.events import InputLevel, StageStatus
from voxelle_app.ui.bridge import Bridge
from voxelle_app.ui.tasks import TaskKeeper
from voxelle_app.ui.widgets.level_meter import LevelMeter
from voxelle_app.ui.widgets.status_badge import StatusBadge

DEFAULT_LABEL = "System default"


class AudioPanel(QWidget):
    def __init__(self, ctx: AppContext, bridge: Bridge, tasks: TaskKeeper) -> None:
        super().__init__()
        self.ctx = ctx
        self.tasks = tasks
        self.input_combo = QComboBox()
        self.input_combo.setAccessibleName("Microphone")
        self.output_combo = QComboBox()
        self.output_combo.setAccessibleName("Output device")
        self.refresh_button = QPushButton("Refresh")
        self.tone_button = QPushButton("Play test tone")
        self.meter = LevelMeter()
        self.input_badge = StatusBadge()
        self.output_badge = StatusBadge()
        self.message = QLabel("")
        self.message.setWordWrap(True)

        devices_box = QGroupBox("Devices")
        form = QFormLayout(devices_box)
        row_in = QHBoxLayout()
        row_in.addWidget(self.input_combo, 1)
        row_in.addWidget(self.input_badge)
        row_out = QHBoxLayout()
        row_out.addWidget(self.output_combo, 1)
        row_out.addWidget(self.output_badge)
        form.addRow("Microphone", row_in)
        form.addRow("Input level", self.meter)
        form.addRow("Output", row_out)
        buttons = QHBoxLayout()
        buttons.addWidget(self.refresh_button)
        buttons.addWidget(self.tone_button)
        buttons.addStretch(1)
        form.addRow("", buttons)

        a = ctx.settings.audio
        self.listen_mode = QComboBox()
        for label, mode in (("Voice activated", "voice"), ("Push to talk", "push_to_talk"),
                            ("Muted", "muted")):
            self.listen_mode.addItem(label, mode)
        self.listen_mode.setCurrentIndex(max(0, self.listen_mode.findData(a.listen_mode)))
        self.ptt_key = QKeySequenceEdit(QKeySequence(a.push_to_talk_key))
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.05, 0.95)
        self.threshold.setSingleStep(0.05)
        self.threshold.setValue(a.vad_threshold)
        self.min_speech = QSpinBox()
        self.min_speech.setRange(0, 5000)
        self.min_speech.setSuffix(" ms")
        self.min_speech.setValue(a.vad_min_speech_ms)
        self.end_silence = QSpinBox()
        self.end_silence.setRange(100, 5000)
        self.end_silence.setSingleStep(50)
        self.end_silence.setSuffix(" ms")
        self.end_silence.setValue(a.vad_end_silence_ms)
        self.barge_in = QCheckBox("Interrupt the co-host when I start talking (barge-in)")
        self.barge_in.setChecked(a.barge_in)
        listen_box = QGroupBox("Listening")
        lf = QFormLayout(listen_box)
        lf.addRow("Mode", self.listen_mode)
        lf.addRow("Push-to-talk key", self.ptt_key)
        lf.addRow("Speech threshold", self.threshold)
        lf.addRow("Minimum speech", self.min_speech)
        lf.addRow("End-of-turn silence", self.end_silence)
        lf.addRow("", self.barge_in)
        hint = QLabel("Use headphones: with speakers, the co-host can hear its own voice. "
                      "Voxelle ignores audio that matches what it is playing, but headphones "
                      "are the only sure way.")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #9ca3af")
        lf.addRow("", hint)
        self.listen_mode.activated.connect(self._listening_changed)
        self.ptt_key.editingFinished.connect(self._listening_changed)
        for spin in (self.threshold, self.min_speech, self.end_silence):
            spin.editingFinished.connect(self._listening_changed)
        self.barge_in.toggled.connect(self._listening_changed)

        layout = QVBoxLayout(self)
        layout.addWidget(devices_box)
        layout.addWidget(listen_box)
        layout.addWidget(self.message)
        layout.addStretch(1)

        self.refresh_button.clicked.connect(lambda: self.refresh(force=True))
        self.tone_button.clicked.connect(self._play_tone)
        self.input_combo.activated.connect(self._input_chosen)
        self.output_combo.activated.connect(self._output_chosen)
        bridge.on(InputLevel, self._on_level)
        bridge.on(StageStatus, self._on_status)

    # --- devices -----------------------------------------------------------------------

    def refresh(self, force: bool = False) -> asyncio.Task[None]:
        return self.tasks.spawn(self._refresh(force), "Listing sound devices")

    async def _refresh(self, force: bool) -> None:
        self.refresh_button.setEnabled(False)
        try:
            devices = await asyncio.to_thread(list_devices, force)
        except Exception as exc:
            self.message.setText(describe(exc))
            devices = []
        finally:
            self.refresh_button.setEnabled(True)
        self._fill(self.input_combo, [d for d in devices if d.max_input_channels > 0],
                   self.ctx.settings.audio.input_device)
        self._fill(self.output_combo, [d for d in devices if d.max_output_channels > 0],
                   self.ctx.settings.audio.output_device)
        if devices:
            self.message.setText(f"{len(devices)} sound devices found.")
        elif not self.message.text():
            self.message.setText("No sound devices found. Plug one in and press Refresh.")

    @staticmethod
    def _fill(combo: QComboBox, devices: list[DeviceInfo], current: str) -> None:
        combo.clear()
        combo.addItem(DEFAULT_LABEL, "")
        for d in devices:
            combo.addItem(d.label, d.name)
        index = combo.findData(current)
        if index < 0 and current:
            combo.addItem(f"{current} (not connected)", current)
            index = combo.count() - 1
        combo.setCurrentIndex(max(index, 0))

    def _input_chosen(self, index: int) -> None:
        name = str(self.input_combo.itemData(index) or "")
        self.ctx.settings.audio.input_device = name
        self.tasks.spawn(self.ctx.audio.open_input(name), "Opening the microphone")

    def _output_chosen(self, index: int) -> None:
        name = str(self.output_combo.itemData(index) or "")
        self.ctx.settings.audio.output_device = name
        self.tasks.spawn(self.ctx.audio.open_output(name), "Opening the output")

    def _play_tone(self) -> None:
        if self.ctx.audio.output is None:
            self.message.setText("The output device is not open; pick one above.")
            return
        self.ctx.audio.play_test_tone()
        self.message.setText("Playing a 440 Hz test tone.")

    def _listening_changed(self) -> None:
        a = self.ctx.settings.audio
        a.listen_mode = self.listen_mode.currentData()
        key = self.ptt_key.keySequence().toString()
        if key:
            a.push_to_talk_key = key
        a.vad_threshold = float(self.threshold.value())
        a.vad_min_speech_ms = int(self.min_speech.value())
        a.vad_end_silence_ms = int(self.end_silence.value())
        a.barge_in = self.barge_in.isChecked()
        self.ctx.hearing.reconfigure_vad()

    # --- events ------------------------------------------------------------------------

    def _on_level(self, event: object) -> None:
        assert isinstance(event, InputLevel)
        self.meter.set_level(event.rms, event.peak)

    def _on_status(self, event: object) -> None:
        assert isinstance(event, StageStatus)
        if event.component == "microphone":
            self.input_badge.set_state(event.state, event.detail)
        elif event.component == "speakers":
            self.output_badge.set_state(event.state, event.detail)
        if event.state == "failed":
            self.message.setText(event.detail)
