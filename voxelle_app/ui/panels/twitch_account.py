"""Twitch sign-in panel: the device code flow, so the streamer never pastes a token.

The panel shows the code Twitch hands out, opens the activation page in the browser, and
waits for the streamer to approve it there. It knows only the ``TwitchAccount`` protocol
(``ui`` never imports ``integrations``); tokens never pass through it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QFont, QGuiApplication
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from voxelle_app.core.control import DeviceCode, TwitchAccount
from voxelle_app.core.errors import describe
from voxelle_app.ui.tasks import TaskKeeper


class TwitchAccountPanel(QWidget):
    #: the signed-in login ("" when signed out), whenever it changes
    signed_in_changed = Signal(str)

    def __init__(
        self,
        account: TwitchAccount,
        tasks: TaskKeeper,
        open_url: Callable[[QUrl], object] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.account = account
        self.tasks = tasks
        self.open_url = open_url or QDesktopServices.openUrl
        self._flow: asyncio.Task[None] | None = None
        self._code: DeviceCode | None = None
        self._deadline = 0.0
        self._shown_login: str | None = None

        self.account_label = QLabel()
        self.account_label.setTextFormat(Qt.TextFormat.PlainText)
        self.account_label.setAccessibleName("Twitch account")
        self.sign_in_button = QPushButton("Sign in with Twitch")
        self.sign_out_button = QPushButton("Sign out")
        self.cancel_button = QPushButton("Cancel")

        self.code_box = QGroupBox("Approve Voxelle on Twitch")
        self.steps_label = QLabel()
        self.steps_label.setWordWrap(True)
        self.steps_label.setTextFormat(Qt.TextFormat.PlainText)
        self.code_label = QLabel()
        self.code_label.setAccessibleName("Twitch sign-in code")
        self.code_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = QFont(self.code_label.font())
        font.setPointSize(font.pointSize() * 2)
        font.setBold(True)
        font.setLetterSpacing(QFont.SpacingType.AbsoluteSpacing, 4)
        self.code_label.setFont(font)
        self.expiry_label = QLabel()
        self.open_button = QPushButton("Open the activation page")
        self.copy_button = QPushButton("Copy code")
        code_buttons = QHBoxLayout()
        code_buttons.addWidget(self.open_button)
        code_buttons.addWidget(self.copy_button)
        code_buttons.addWidget(self.cancel_button)
        code_buttons.addStretch(1)
        code_layout = QVBoxLayout(self.code_box)
        code_layout.addWidget(self.steps_label)
        code_layout.addWidget(self.code_label)
        code_layout.addWidget(self.expiry_label)
        code_layout.addLayout(code_buttons)
        self.code_box.hide()

        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)

        buttons = QHBoxLayout()
        buttons.addWidget(self.sign_in_button)
        buttons.addWidget(self.sign_out_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.account_label)
        layout.addLayout(buttons)
        layout.addWidget(self.code_box)
        layout.addWidget(self.message)
        layout.addStretch(1)

        self.sign_in_button.clicked.connect(self.sign_in)
        self.sign_out_button.clicked.connect(self.sign_out)
        self.cancel_button.clicked.connect(self.cancel)
        self.open_button.clicked.connect(self._open_page)
        self.copy_button.clicked.connect(self._copy_code)
        # The account may change outside the panel (start-up check, expired sign-in), and
        # reading a property is cheap, so a slow timer keeps the label honest.
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()
        self.refresh()

    @property
    def busy(self) -> bool:
        return self._flow is not None and not self._flow.done()

    def refresh(self) -> None:
        login = self.account.signed_in_as
        if login != self._shown_login:
            self._shown_login = login
            self.account_label.setText(f"Signed in to Twitch as {login}" if login
                                       else "Not signed in to Twitch")
            self.signed_in_changed.emit(login)
        busy = self.busy
        self.sign_in_button.setEnabled(not busy)
        self.sign_in_button.setText("Sign in with another account" if login
                                    else "Sign in with Twitch")
        self.sign_out_button.setEnabled(bool(login) and not busy)
        if self._code is not None:
            left = max(0, int(self._deadline - time.monotonic()))
            self.expiry_label.setText(f"The code expires in {left // 60}:{left % 60:02d}.")

    # --- sign in -------------------------------------------------------------------------

    def sign_in(self) -> asyncio.Task[None]:
        if self.busy:
            assert self._flow is not None
            return self._flow
        self._flow = self.tasks.spawn(self._sign_in(), "Signing in to Twitch")
        self.refresh()
        return self._flow

    async def _sign_in(self) -> None:
        self.message.setText("Asking Twitch for a sign-in code…")
        try:
            code = await self.account.begin_sign_in()
            self._show_code(code)
            self._open_page()
            login = await self.account.finish_sign_in()
            self.message.setText(f"Signed in as {login}.")
        except asyncio.CancelledError:
            self.message.setText("Sign-in cancelled.")
            raise
        except Exception as exc:  # a sentence for the streamer, never a traceback
            self.message.setText(describe(exc))
        finally:
            self._hide_code()
            self._flow = None
            self.refresh()

    def cancel(self) -> None:
        if self._flow is not None:
            self._flow.cancel()

    def _show_code(self, code: DeviceCode) -> None:
        self._code = code
        self._deadline = time.monotonic() + code.expires_in
        self.steps_label.setText(
            f"Your browser opens {code.verification_uri}. Check that Twitch shows this code, "
            "then approve Voxelle. This page updates by itself."
        )
        self.code_label.setText(code.user_code)
        self.message.setText("Waiting for you to approve Voxelle on Twitch…")
        self.code_box.show()
        self.refresh()

    def _hide_code(self) -> None:
        self._code = None
        self.code_box.hide()
        self.code_label.clear()

    def _open_page(self) -> None:
        if self._code is not None:
            self.open_url(QUrl(self._code.verification_uri))

    def _copy_code(self) -> None:
        if self._code is not None:
            QGuiApplication.clipboard().setText(self._code.user_code)

    # --- sign out ------------------------------------------------------------------------

    def sign_out(self) -> asyncio.Task[None]:
        return self.tasks.spawn(self._sign_out(), "Signing out of Twitch")

    async def _sign_out(self) -> None:
        self.sign_out_button.setEnabled(False)
        try:
            await self.account.sign_out()
            self.message.setText("Signed out of Twitch.")
        except Exception as exc:
            self.message.setText(describe(exc))
        finally:
            self.refresh()
