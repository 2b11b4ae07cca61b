"""Discord account panel: the bot token, how to set the bot up, and what voice can do.

The token is typed (or pasted) once and handed straight to the secrets store through
``DiscordAccount``; the field is cleared right after, whatever happened, and the panel only
ever says whether a token is saved. Typed against ``core.control.DiscordAccount`` so the UI
never imports the integration.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from voxelle_app.core.control import DiscordAccount
from voxelle_app.core.errors import VoxelleError

PORTAL_URL = "https://discord.com/developers/applications"

SETUP_STEPS = f"""
<ol style="margin-left: -20px">
<li>Open the <a href="{PORTAL_URL}">Discord Developer Portal</a> and create an application
(or pick yours).</li>
<li><b>Bot → Reset Token</b>, copy the token and paste it above. Treat it like a password:
anyone with it controls your bot.</li>
<li><b>Bot → Privileged Gateway Intents</b>: switch on <b>MESSAGE CONTENT INTENT</b> and save.
The co-host cannot read what people write without it.</li>
<li><b>OAuth2 → URL Generator</b>: tick the scopes <b>bot</b> and <b>applications.commands</b>,
then the permissions View Channels, Send Messages, Read Message History, Connect and Speak.
Open the generated link to invite the bot to your server.</li>
<li>In Discord, turn on <b>User Settings → Advanced → Developer Mode</b>, right-click the
channels the co-host may answer in (and its voice channel) and <b>Copy Channel ID</b> into
Voxelle's Discord settings.</li>
</ol>
"""

MISSING_INTENT = (
    "<b>If the Message Content intent is off</b>, Discord refuses the connection and the "
    "Discord status shows: <i>“Discord refused the connection: the bot needs the Message "
    "Content intent to read messages, and it is not enabled (gateway close code 4014).”</i> "
    "Switch on MESSAGE CONTENT INTENT (step 3) and connect again. A refused token shows "
    "<i>“Discord did not accept the bot token”</i> (or close code 4004): reset it and paste "
    "the new one."
)

VOICE_NOTE = (
    "<b>Voice is speak-only.</b> The co-host can join a voice channel and speak its replies "
    "there, but it cannot hear people in a Discord call: discord.py has no voice receive, and "
    "the known add-on for it breaks under DAVE, the end-to-end voice encryption Discord "
    "requires since March 2026. The co-host hears you through your microphone; moderators can "
    "use /ask, and viewers can write in the allowed channels."
)


class DiscordAccountPanel(QWidget):
    #: whether a token is saved, after a save or removal
    token_changed = Signal(bool)

    def __init__(self, account: DiscordAccount, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.account = account

        self.status = QLabel()
        self.status.setAccessibleName("Bot token status")
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #f87171")
        self.error.hide()
        self.token_edit = QLineEdit()
        self.token_edit.setEchoMode(QLineEdit.EchoMode.Password)  # no copy or cut either
        self.token_edit.setPlaceholderText("Paste the bot token")
        self.token_edit.setAccessibleName("Discord bot token")
        self.token_edit.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        self.save_button = QPushButton("Save token")
        self.save_button.setObjectName("primary")
        self.remove_button = QPushButton("Remove token")
        self.remove_button.setObjectName("danger")

        entry = QHBoxLayout()
        entry.addWidget(self.token_edit, 1)
        entry.addWidget(self.save_button)
        entry.addWidget(self.remove_button)
        token_box = QGroupBox("Bot token")
        token_layout = QVBoxLayout(token_box)
        token_layout.addWidget(self.status)
        token_layout.addLayout(entry)
        token_layout.addWidget(self.error)

        self.steps = self._text(SETUP_STEPS)
        self.steps.setOpenExternalLinks(True)
        self.intent_help = self._text(MISSING_INTENT)
        setup_box = QGroupBox("Setting up the bot")
        setup_layout = QVBoxLayout(setup_box)
        setup_layout.addWidget(self.steps)
        setup_layout.addWidget(self.intent_help)

        self.voice_note = self._text(VOICE_NOTE)
        voice_box = QGroupBox("Voice")
        QVBoxLayout(voice_box).addWidget(self.voice_note)

        layout = QVBoxLayout(self)
        layout.addWidget(token_box)
        layout.addWidget(setup_box)
        layout.addWidget(voice_box)
        layout.addStretch(1)

        self.token_edit.textChanged.connect(self._typed)
        self.token_edit.returnPressed.connect(self.save)
        self.save_button.clicked.connect(self.save)
        self.remove_button.clicked.connect(self.remove)
        self._typed("")
        self.refresh()

    @staticmethod
    def _text(html: str) -> QLabel:
        label = QLabel(html)
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setWordWrap(True)
        return label

    def refresh(self) -> None:
        saved = self.account.has_token
        self.status.setText(
            "A bot token is saved in Voxelle's secrets store (it is never shown again)."
            if saved else "No bot token is saved yet."
        )
        self.remove_button.setEnabled(saved)

    def _typed(self, text: str) -> None:
        self.save_button.setEnabled(bool(text.strip()))

    def save(self) -> None:
        token = self.token_edit.text()
        self.token_edit.clear()  # the token leaves the widget whatever happens next
        if not token.strip():
            return
        try:
            self.account.set_token(token)
        except VoxelleError as exc:
            self._show_error(exc.user_message())
        except Exception as exc:  # a keyring failure must not take the window down
            # Only the type: an unknown error's text might quote what was typed.
            self._show_error(f"The token could not be saved ({type(exc).__name__}).")
        else:
            self.error.hide()
            self.refresh()
            self.token_changed.emit(True)

    def remove(self) -> None:
        try:
            self.account.clear_token()
        except VoxelleError as exc:
            self._show_error(exc.user_message())
            return
        self.error.hide()
        self.refresh()
        self.token_changed.emit(False)

    def _show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.show()
