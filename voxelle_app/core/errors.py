"""One exception hierarchy for the whole application.

Every error carries a sentence a streamer can read (``message``), what to do about it
(``hint``), machine-readable ``context``, the ``component`` that raised it and when.
The UI shows ``user_message()``; it never shows a traceback.
"""

from __future__ import annotations

import time
from typing import Any


class VoxelleError(Exception):
    component: str = "voxelle"

    def __init__(
        self,
        message: str,
        *,
        hint: str = "",
        context: dict[str, Any] | None = None,
        component: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.context: dict[str, Any] = dict(context or {})
        self.timestamp = time.time()
        if component is not None:
            self.component = component

    def user_message(self) -> str:
        """What a person sees: what failed, and what to do."""
        return f"{self.message} {self.hint}".strip() if self.hint else self.message

    def __str__(self) -> str:
        return self.user_message()


class ValidationError(VoxelleError):
    """Bad input from a person or a file."""


class ConfigurationError(VoxelleError):
    """Settings that cannot work: a missing model file, a bad device."""


class OperationError(VoxelleError):
    """A model operation failed."""


class TTSError(OperationError):
    component = "tts"


class STTError(OperationError):
    component = "stt"


class T2TError(OperationError):
    component = "llm"


class AudioFilterError(OperationError):
    component = "effects"


class ProcessError(VoxelleError):
    """A worker thread or subprocess failed."""


class APIError(VoxelleError):
    """A remote API refused or failed a request."""


class AuthenticationError(APIError):
    pass


class AuthorizationError(APIError):
    pass


class RateLimitError(APIError):
    def __init__(self, message: str, *, retry_after: float = 0.0, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class BackendError(VoxelleError):
    """Storage and integration back ends."""


class DatabaseError(BackendError):
    pass


class IntegrationError(BackendError):
    pass


def describe(exc: BaseException) -> str:
    """A readable sentence for any exception, ours or not."""
    if isinstance(exc, VoxelleError):
        return exc.user_message()
    text = str(exc).strip()
    name = type(exc).__name__
    return f"{name}: {text}" if text else name
