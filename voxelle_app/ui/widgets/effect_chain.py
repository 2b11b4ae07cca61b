"""An editor for the voice effect chain: presets, effects with their settings, add/remove/reorder."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from voxelle_app.core.operations.filter_audio.effects import EFFECTS
from voxelle_app.core.settings import EffectSpec


class EffectRow(QGroupBox):
    changed = Signal()
    remove_requested = Signal(object)
    move_requested = Signal(object, int)

    def __init__(self, spec: EffectSpec) -> None:
        etype = EFFECTS[spec.kind]
        super().__init__(etype.title)
        self.kind = spec.kind
        self.enabled = QCheckBox("on")
        self.enabled.setChecked(spec.enabled)
        self.spins: dict[str, QDoubleSpinBox] = {}
        form = QFormLayout()
        for p in etype.params:
            spin = QDoubleSpinBox()
            spin.setRange(p.low, p.high)
            spin.setDecimals(2)
            spin.setSingleStep((p.high - p.low) / 50)
            spin.setValue(spec.params.get(p.name, p.default))
            spin.valueChanged.connect(self.changed)
            form.addRow(p.label, spin)
            self.spins[p.name] = spin
        up, down, delete = QPushButton("▲"), QPushButton("▼"), QPushButton("Remove")
        for b in (up, down):
            b.setFixedWidth(32)
        up.clicked.connect(lambda: self.move_requested.emit(self, -1))
        down.clicked.connect(lambda: self.move_requested.emit(self, 1))
        delete.clicked.connect(lambda: self.remove_requested.emit(self))
        self.enabled.toggled.connect(self.changed)
        top = QHBoxLayout()
        top.addWidget(self.enabled)
        top.addStretch(1)
        top.addWidget(up)
        top.addWidget(down)
        top.addWidget(delete)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(form)

    def spec(self) -> EffectSpec:
        return EffectSpec(
            kind=self.kind,
            params={name: float(spin.value()) for name, spin in self.spins.items()},
            enabled=self.enabled.isChecked(),
        )


class EffectChainEditor(QWidget):
    """Edits ``presets`` in place; ``chain_changed`` carries the chain being edited."""

    chain_changed = Signal(list)
    presets_changed = Signal()

    def __init__(self, presets: dict[str, list[EffectSpec]], current: str) -> None:
        super().__init__()
        self.presets = presets
        self.preset = QComboBox()
        self.preset.setAccessibleName("Effect preset")
        self.add_kind = QComboBox()
        for kind, etype in sorted(EFFECTS.items(), key=lambda kv: kv[1].title):
            self.add_kind.addItem(etype.title, kind)
        self.add_button = QPushButton("Add effect")
        self.save_as = QPushButton("Save as preset…")
        self.rows_box = QVBoxLayout()
        self.rows_box.addStretch(1)
        inner = QWidget()
        inner.setLayout(self.rows_box)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        scroll.setMinimumHeight(160)
        self.empty_label = QLabel("No effects: the plain voice.")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        top = QHBoxLayout()
        top.addWidget(QLabel("Preset"))
        top.addWidget(self.preset, 1)
        top.addWidget(self.save_as)
        add = QHBoxLayout()
        add.addWidget(self.add_kind, 1)
        add.addWidget(self.add_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.empty_label)
        layout.addWidget(scroll, 1)
        layout.addLayout(add)
        self.rows: list[EffectRow] = []
        self._fill_presets(current)
        self.preset.currentIndexChanged.connect(self._preset_chosen)
        self.add_button.clicked.connect(self._add)
        self.save_as.clicked.connect(self._save_as)
        self._load(current)

    @property
    def current_preset(self) -> str:
        return str(self.preset.currentData())

    def chain(self) -> list[EffectSpec]:
        return [r.spec() for r in self.rows]

    def _fill_presets(self, current: str) -> None:
        self.preset.blockSignals(True)
        self.preset.clear()
        for name in sorted(self.presets):
            self.preset.addItem(name, name)
        self.preset.setCurrentIndex(max(0, self.preset.findData(current)))
        self.preset.blockSignals(False)

    def _load(self, name: str) -> None:
        for row in self.rows:
            row.setParent(None)
            row.deleteLater()
        self.rows = []
        for spec in self.presets.get(name, []):
            self._append(spec)
        self._changed()

    def _append(self, spec: EffectSpec) -> None:
        row = EffectRow(spec)
        row.changed.connect(self._changed)
        row.remove_requested.connect(self._remove)
        row.move_requested.connect(self._move)
        self.rows.append(row)
        self.rows_box.insertWidget(self.rows_box.count() - 1, row)

    def _relayout(self) -> None:
        for row in self.rows:
            self.rows_box.removeWidget(row)
        for i, row in enumerate(self.rows):
            self.rows_box.insertWidget(i, row)

    def _add(self) -> None:
        self._append(EffectSpec(kind=str(self.add_kind.currentData())))
        self._changed()

    def _remove(self, row: EffectRow) -> None:
        self.rows.remove(row)
        row.setParent(None)
        row.deleteLater()
        self._changed()

    def _move(self, row: EffectRow, step: int) -> None:
        i = self.rows.index(row)
        j = min(max(i + step, 0), len(self.rows) - 1)
        self.rows[i], self.rows[j] = self.rows[j], self.rows[i]
        self._relayout()
        self._changed()

    def _changed(self) -> None:
        self.empty_label.setVisible(not self.rows)
        name = self.current_preset
        if name != "none":  # edits to a named preset are kept in it; "none" stays plain
            self.presets[name] = self.chain()
        self.chain_changed.emit(self.chain())

    def _preset_chosen(self) -> None:
        self._load(self.current_preset)
        self.presets_changed.emit()

    def _save_as(self) -> None:
        name, ok = QInputDialog.getText(self, "Save preset", "Preset name:")
        name = name.strip()
        if ok and name:
            self.save_preset(name)

    def save_preset(self, name: str) -> None:
        self.presets[name] = self.chain()
        self._fill_presets(name)
        self.presets_changed.emit()
