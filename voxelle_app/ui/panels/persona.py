"""Persona panel: edit the co-host's persona, with validation, save, revert and an unsaved marker."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from voxelle_app.core.context import AppContext
from voxelle_app.core.errors import describe
from voxelle_app.core.prompter.persona import PLACEHOLDERS, validate_persona


class PersonaPanel(QWidget):
    dirty_changed = Signal(bool)

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.name_edit = QLineEdit(ctx.settings.persona.name)
        self.name_edit.setMaxLength(40)
        self.streamer_edit = QLineEdit(ctx.settings.persona.streamer_name)
        self.editor = QPlainTextEdit()
        self.editor.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.editor.setAccessibleName("Persona prompt")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.save_button = QPushButton("Save")
        self.revert_button = QPushButton("Revert")
        self.default_button = QPushButton("Restore default")

        form = QFormLayout()
        form.addRow("Co-host name", self.name_edit)
        form.addRow("Streamer name", self.streamer_edit)
        hint = QLabel(
            "Placeholders: " + ", ".join("{" + p + "}" for p in sorted(PLACEHOLDERS))
            + ". Changes apply from the next reply."
        )
        hint.setStyleSheet("color: #9ca3af")
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.revert_button)
        buttons.addWidget(self.default_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.editor, 1)
        layout.addWidget(hint)
        layout.addWidget(self.status)
        layout.addLayout(buttons)

        self._saved_text = ""
        self._saved_names = ("", "")
        self.revert()
        self.editor.textChanged.connect(self._changed)
        self.name_edit.textChanged.connect(self._changed)
        self.streamer_edit.textChanged.connect(self._changed)
        self.save_button.clicked.connect(self.save)
        self.revert_button.clicked.connect(self.revert)
        self.default_button.clicked.connect(self.restore_default)

    @property
    def dirty(self) -> bool:
        return (self.editor.toPlainText() != self._saved_text
                or (self.name_edit.text(), self.streamer_edit.text()) != self._saved_names)

    def revert(self) -> None:
        self._saved_text = self.ctx.persona.load()
        self._saved_names = (self.ctx.settings.persona.name, self.ctx.settings.persona.streamer_name)
        self.editor.setPlainText(self._saved_text)
        self.name_edit.setText(self._saved_names[0])
        self.streamer_edit.setText(self._saved_names[1])
        self._changed()

    def restore_default(self) -> None:
        self.editor.setPlainText(self.ctx.persona.default())

    def save(self) -> bool:
        text = self.editor.toPlainText()
        name = self.name_edit.text().strip()
        problems = validate_persona(text)
        if not name:
            problems.append("Give the co-host a name.")
        if problems:
            self._show(" ".join(problems), error=True)
            return False
        try:
            self.ctx.persona.save(text)
            self.ctx.settings.persona.name = name
            self.ctx.selector.cohost_name = name  # "mentions" mode listens for the new name
            self.ctx.settings.persona.streamer_name = self.streamer_edit.text().strip() or (
                "the streamer"
            )
            self.ctx.save_settings()
        except Exception as exc:
            self._show(f"Could not save the persona: {describe(exc)}", error=True)
            return False
        self._saved_text = text
        self._saved_names = (self.ctx.settings.persona.name, self.ctx.settings.persona.streamer_name)
        self._changed()
        self._show("Saved. The co-host uses it from the next reply.")
        return True

    def _changed(self) -> None:
        dirty = self.dirty
        self.save_button.setEnabled(dirty)
        self.revert_button.setEnabled(dirty)
        problems = validate_persona(self.editor.toPlainText())
        if problems:
            self._show(" ".join(problems), error=True)
        elif dirty:
            self._show("Unsaved changes.")
        else:
            self._show("")
        self.dirty_changed.emit(dirty)

    def _show(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #ef4444" if error else "")
