"""Interfaces the composition root hands across package lines.

``ui`` never imports ``integrations`` and ``integrations`` never import ``ui``; both only
know these protocols (implemented by the director in core, and by the integrations).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from voxelle_app.core.events import ChatMessage, ConnectionState, Source, StreamEvent


class Switchable(Protocol):
    """A connection the UI can show and toggle."""

    name: str  # "twitch", "discord", "vtube_studio"
    title: str  # "Twitch", shown in the UI

    @property
    def state(self) -> ConnectionState: ...

    @property
    def detail(self) -> str: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class CoHost(Protocol):
    """What integrations and the UI may ask of the conversation director."""

    @property
    def persona_name(self) -> str: ...

    def submit(
        self,
        text: str,
        source: Source,
        user: str = "",
        origin: ChatMessage | StreamEvent | None = None,
    ) -> None:
        """Offer an input to the co-host (selection and safety still apply)."""

    def stop_speaking(self) -> None:
        """Interrupt: stop audio now, drop queued sentences, cancel generation."""

    def set_ears_muted(self, muted: bool) -> None: ...

    def set_panic(self, active: bool) -> None:
        """Panic: stop speech, clear every queue, pause chat intake until released."""


class AudioSink(Protocol):
    """Receives the co-host's speech after effects, as it is handed to playback."""

    def write(self, audio: np.ndarray, rate: int) -> None:
        """Mono float32 audio at ``rate`` Hz; called on the loop thread, must not block."""

    def flush(self) -> None:
        """Drop anything not yet played (interruption)."""


@dataclass(frozen=True)
class Hotkey:
    id: str
    name: str
    kind: str = ""


@dataclass(frozen=True)
class Expression:
    file: str
    name: str
    active: bool = False


class AvatarControl(Protocol):
    """What the avatar panel needs from VTube Studio."""

    @property
    def model_name(self) -> str: ...

    @property
    def mouth_value(self) -> float:
        """The mouth opening last sent to the avatar, 0..1 (for the panel's live bar)."""

    @property
    def last_mood(self) -> str:
        """The last mood the co-host expressed, and what it triggered, for the panel."""

    async def list_hotkeys(self) -> Sequence[Hotkey]: ...

    async def list_expressions(self) -> Sequence[Expression]: ...

    async def trigger_hotkey(self, hotkey_id: str) -> None: ...

    async def set_expression(self, file: str, active: bool) -> None: ...


@dataclass(frozen=True)
class DeviceCode:
    user_code: str
    verification_uri: str
    expires_in: int


class TwitchAccount(Protocol):
    """Sign-in for the integrations panel (device code flow)."""

    @property
    def signed_in_as(self) -> str: ...

    async def restore_sign_in(self) -> str:
        """Check stored tokens at start-up; the login name, or "" when signed out."""

    async def begin_sign_in(self) -> DeviceCode: ...

    async def finish_sign_in(self) -> str:
        """Wait until the user approved the code; return the login name."""

    async def sign_out(self) -> None: ...


class DiscordAccount(Protocol):
    @property
    def has_token(self) -> bool: ...

    def set_token(self, token: str) -> None: ...

    def clear_token(self) -> None: ...
