"""Models panel: speech recognition, voice and effects; each with its state and a test action.

Loading runs in the model's own worker thread; this panel only awaits, so the window keeps
painting while a model loads.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from voxelle_app.core.context import AppContext
from voxelle_app.core.errors import describe
from voxelle_app.core.events import StageStatus
from voxelle_app.core.settings import EffectSpec
from voxelle_app.core.voice import SAMPLE_LINE
from voxelle_app.ui.bridge import Bridge
from voxelle_app.ui.tasks import TaskKeeper
from voxelle_app.ui.widgets.effect_chain import EffectChainEditor
from voxelle_app.ui.widgets.status_badge import StatusBadge

LANGUAGES = [("English", "en"), ("Detect automatically", "auto"), ("Spanish", "es"),
             ("French", "fr"), ("German", "de"), ("Portuguese", "pt"), ("Italian", "it"),
             ("Japanese", "ja"), ("Korean", "ko"), ("Chinese", "zh")]
CHOOSE = "__choose__"

#: kind ("stt" | "tts" | "llm") → installed downloadable models as (label, path)
InstalledModels = Callable[[str], list[tuple[str, str]]]


def model_combo(bundled: str, installed: list[tuple[str, str]], current: str) -> QComboBox:
    combo = QComboBox()
    combo.addItem(bundled, "")
    for label, path in installed:
        combo.addItem(label, path)
    if current and combo.findData(current) < 0:
        combo.addItem(Path(current).name, current)
    combo.addItem("Choose…", CHOOSE)
    combo.setCurrentIndex(max(0, combo.findData(current)))
    return combo


class ModelsPanel(QWidget):
    def __init__(
        self, ctx: AppContext, bridge: Bridge, tasks: TaskKeeper,
        installed: InstalledModels = lambda kind: [],
    ) -> None:
        super().__init__()
        self.ctx = ctx
        self.tasks = tasks
        s = ctx.settings

        # --- speech recognition ---
        self.stt_combo = model_combo("Whisper tiny.en (bundled)", installed("stt"), s.stt.model)
        self.language = QComboBox()
        for label, code in LANGUAGES:
            self.language.addItem(label, code)
        self.language.setCurrentIndex(max(0, self.language.findData(s.stt.language)))
        self.stt_badge = StatusBadge()
        self.stt_detail = QLabel("")
        self.stt_detail.setWordWrap(True)
        self.stt_test = QPushButton("Transcribe the last 5 s of the microphone")
        self.stt_result = QLabel("")
        self.stt_result.setWordWrap(True)
        stt_box = QGroupBox("Speech recognition (faster-whisper)")
        f = QFormLayout(stt_box)
        f.addRow("Model", self._row(self.stt_combo, self.stt_badge))
        f.addRow("Language", self.language)
        f.addRow("", self.stt_detail)
        f.addRow("", self.stt_test)
        f.addRow("Heard", self.stt_result)

        # --- voice ---
        self.tts_combo = model_combo("en_US-joe-medium (bundled)", installed("tts"), s.tts.voice)
        self.speed = QDoubleSpinBox()
        self.speed.setRange(0.5, 2.0)
        self.speed.setSingleStep(0.05)
        self.speed.setValue(s.tts.speed)
        self.speaker = QSpinBox()
        self.speaker.setRange(0, 999)
        self.speaker.setValue(s.tts.speaker_id)
        self.tts_badge = StatusBadge()
        self.tts_detail = QLabel("")
        self.tts_detail.setWordWrap(True)
        self.tts_test = QPushButton("Speak a sample line")
        tts_box = QGroupBox("Voice (piper)")
        g = QFormLayout(tts_box)
        g.addRow("Voice", self._row(self.tts_combo, self.tts_badge))
        g.addRow("Speed", self.speed)
        g.addRow("Speaker", self.speaker)
        g.addRow("", self.tts_detail)
        g.addRow("", self.tts_test)

        # --- language model ---
        self.llm_combo = model_combo("SmolLM2-135M-Instruct (bundled)", installed("llm"), s.llm.model)
        self.llm_badge = StatusBadge()
        self.llm_detail = QLabel("")
        self.llm_detail.setWordWrap(True)
        self.context_size = self._spin(256, 32768, s.llm.context_size, 256)
        self.max_tokens = self._spin(8, 1024, s.llm.max_reply_tokens, 8)
        self.history = self._spin(0, 16384, s.llm.history_tokens, 64)
        self.llm_threads = self._spin(0, 64, s.llm.threads, 1)
        self.llm_threads.setSpecialValueText("auto")
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.0, 2.0)
        self.temperature.setSingleStep(0.05)
        self.temperature.setValue(s.llm.temperature)
        self.top_p = QDoubleSpinBox()
        self.top_p.setRange(0.05, 1.0)
        self.top_p.setSingleStep(0.05)
        self.top_p.setValue(s.llm.top_p)
        llm_box = QGroupBox("Language model (llama.cpp)")
        h = QFormLayout(llm_box)
        h.addRow("Model", self._row(self.llm_combo, self.llm_badge))
        h.addRow("", self.llm_detail)
        h.addRow("Temperature", self.temperature)
        h.addRow("Top-p", self.top_p)
        h.addRow("Longest reply (tokens)", self.max_tokens)
        h.addRow("History budget (tokens)", self.history)
        h.addRow("Context size (tokens)", self.context_size)
        h.addRow("Threads", self.llm_threads)

        # --- effects ---
        self.effects = EffectChainEditor(dict(s.effects.presets), s.effects.preset)
        self.preview = QPushButton("Preview")
        self.effects_status = QLabel("")
        fx_box = QGroupBox("Voice effects (pedalboard)")
        fx = QVBoxLayout(fx_box)
        fx.addWidget(self.effects)
        fx.addLayout(self._row(self.preview, self.effects_status))

        left = QVBoxLayout()
        left.addWidget(llm_box)
        left.addWidget(stt_box)
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(tts_box)
        right.addWidget(fx_box, 1)
        self.columns = QHBoxLayout(self)
        self.columns.addLayout(left, 1)
        self.columns.addLayout(right, 1)

        self.stt_combo.activated.connect(lambda _: self._model_chosen(self.stt_combo, "stt"))
        self.language.activated.connect(lambda _: self._stt_changed())
        self.tts_combo.activated.connect(lambda _: self._model_chosen(self.tts_combo, "tts"))
        self.speed.editingFinished.connect(self._tts_changed)
        self.speaker.editingFinished.connect(self._tts_changed)
        self.llm_combo.activated.connect(lambda _: self._model_chosen(self.llm_combo, "llm"))
        for spin in (self.context_size, self.llm_threads):
            spin.editingFinished.connect(self._llm_changed)
        for w in (self.temperature, self.top_p, self.max_tokens, self.history):
            w.editingFinished.connect(self._llm_tuned)
        self.stt_test.clicked.connect(self._test_stt)
        self.tts_test.clicked.connect(lambda: self._speak(SAMPLE_LINE))
        self.preview.clicked.connect(lambda: self._speak(SAMPLE_LINE))
        self.effects.chain_changed.connect(self._chain_changed)
        self.effects.presets_changed.connect(self._preset_changed)
        bridge.on(StageStatus, self._on_status)

    @staticmethod
    def _spin(low: int, high: int, value: int, step: int) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(low, high)
        spin.setSingleStep(step)
        spin.setValue(value)
        return spin

    @staticmethod
    def _row(*widgets: QWidget) -> QHBoxLayout:
        row = QHBoxLayout()
        for i, w in enumerate(widgets):
            row.addWidget(w, 1 if i == 0 else 0)
        return row

    # --- choices -----------------------------------------------------------------------

    def _model_chosen(self, combo: QComboBox, kind: str) -> None:
        value = str(combo.currentData())
        if value == CHOOSE:
            if kind == "stt":
                value = QFileDialog.getExistingDirectory(self, "CTranslate2 Whisper model folder")
            elif kind == "llm":
                value, _ = QFileDialog.getOpenFileName(self, "Language model", "", "GGUF (*.gguf)")
            else:
                value, _ = QFileDialog.getOpenFileName(self, "Piper voice", "", "Piper voices (*.onnx)")
            if not value:
                current = {"stt": self.ctx.settings.stt.model, "llm": self.ctx.settings.llm.model,
                           "tts": self.ctx.settings.tts.voice}[kind]
                combo.setCurrentIndex(max(0, combo.findData(current)))
                return
            combo.insertItem(combo.count() - 1, Path(value).name, value)
            combo.setCurrentIndex(combo.count() - 2)
        {"stt": self._stt_changed, "llm": self._llm_changed, "tts": self._tts_changed}[kind]()

    def _stt_changed(self) -> None:
        self.ctx.settings.stt.model = str(self.stt_combo.currentData())
        self.ctx.settings.stt.language = str(self.language.currentData())
        self.tasks.spawn(self.ctx.hearing.load(), "Loading the speech model")

    def _llm_changed(self) -> None:
        """Model, context size and threads need a reload."""
        self._llm_tuned()
        s = self.ctx.settings.llm
        s.model = str(self.llm_combo.currentData())
        s.context_size = int(self.context_size.value())
        s.threads = int(self.llm_threads.value())
        self.tasks.spawn(self.ctx.llm.load(), "Loading the language model")

    def _llm_tuned(self) -> None:
        """Sampling and lengths apply from the next reply, without a reload."""
        s = self.ctx.settings.llm
        s.temperature = float(self.temperature.value())
        s.top_p = float(self.top_p.value())
        s.max_reply_tokens = int(self.max_tokens.value())
        s.history_tokens = int(self.history.value())
        self.ctx.llm.apply_sampling()

    def _tts_changed(self) -> None:
        t = self.ctx.settings.tts
        t.voice = str(self.tts_combo.currentData())
        t.speed = float(self.speed.value())
        t.speaker_id = int(self.speaker.value())
        self.tasks.spawn(self.ctx.voice.load(), "Loading the voice")

    def _chain_changed(self, chain: list[EffectSpec]) -> None:
        self._preset_changed()
        try:
            self.ctx.voice.effects.set_specs(chain)
            self.effects_status.setText(f"{sum(s.enabled for s in chain)} effect(s) active")
        except Exception as exc:
            self.effects_status.setText(describe(exc))

    def _preset_changed(self) -> None:
        # The editor edits its own copy; settings validate what they are given.
        self.ctx.settings.effects.presets = dict(self.effects.presets)
        self.ctx.settings.effects.preset = self.effects.current_preset

    # --- tests -------------------------------------------------------------------------

    def _test_stt(self) -> None:
        async def run() -> None:
            self.stt_result.setText("Listening back…")
            result = await self.ctx.hearing.transcribe_recent()
            self.stt_result.setText(result.text or "(nothing heard)")

        self.tasks.spawn(run(), "Testing speech recognition")

    def _speak(self, text: str) -> None:
        async def run() -> None:
            voice, audio = self.ctx.voice, self.ctx.audio
            if audio.output is None:
                self.effects_status.setText("The output device is not open (see the Audio panel).")
                return
            async for chunk in voice.stream(text):
                audio.play(chunk, voice.sample_rate, last=False)

        self.tasks.spawn(run(), "Speaking a sample line")

    # --- state -------------------------------------------------------------------------

    def _on_status(self, event: object) -> None:
        assert isinstance(event, StageStatus)
        target = {"stt": (self.stt_badge, self.stt_detail),
                  "tts": (self.tts_badge, self.tts_detail),
                  "llm": (self.llm_badge, self.llm_detail)}.get(event.component)
        if target is None:
            return
        badge, detail = target
        badge.set_state(event.state, event.detail)
        detail.setText(event.detail if event.state == "failed" else "")
        busy = event.state == "loading"
        if event.component == "stt":
            self.stt_test.setEnabled(not busy)
            self.stt_combo.setEnabled(not busy)
        elif event.component == "tts":
            self.tts_test.setEnabled(not busy)
            self.tts_combo.setEnabled(not busy)
        else:
            self.llm_combo.setEnabled(not busy)

