"""Log categories, a rotating log file, the bus log feed, and secret redaction.

Every record carries a ``category`` (see ``Category``). Redaction runs as a handler filter,
so every handler (file, terminal, the UI's log panel) sees the same cleaned text: secrets
registered with the ``Redactor`` and anything shaped like a bearer token become ``[REDACTED]``.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
import threading
from enum import StrEnum
from pathlib import Path

from voxelle_app.core.bus import EventBus
from voxelle_app.core.events import LogLine

REDACTED = "[REDACTED]"
LOG_FORMAT = "%(asctime)s %(levelname)-7s %(category)-11s %(name)s: %(message)s"


class Category(StrEnum):
    OPERATION = "OPERATION"
    INTEGRATION = "INTEGRATION"
    SECURITY = "SECURITY"
    PERFORMANCE = "PERFORMANCE"
    API_REQUEST = "API_REQUEST"
    ERROR = "ERROR"


# Shapes of credentials that must never be written even if nobody registered them.
_TOKEN_PATTERNS = [
    re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?(?:bearer|oauth|bot)\s+)[^\s\"',}]+"),
    re.compile(r"(?i)((?:access|refresh)_token[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,}]+"),
    re.compile(r"(?i)(oauth:)[a-z0-9]{10,}"),
    re.compile(r"()[MN][A-Za-z\d_-]{23,25}\.[A-Za-z\d_-]{6}\.[A-Za-z\d_-]{27,}"),  # Discord bot
]


class Redactor:
    """Replaces registered secrets (and token-shaped text) with ``[REDACTED]``."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def register(self, secret: str | None) -> None:
        if secret and len(secret) >= 4:
            with self._lock:
                self._secrets.add(secret)

    def redact(self, text: str) -> str:
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        for secret in secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        for pattern in _TOKEN_PATTERNS:
            text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
        return text


class RedactingFilter(logging.Filter):
    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "category"):
            record.category = Category.ERROR if record.levelno >= logging.ERROR else (
                Category.OPERATION
            )
        record.msg = self.redactor.redact(record.getMessage())
        record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor.redact(record.stack_info)
        return True


class BusLogHandler(logging.Handler):
    """Publishes log lines as ``LogLine`` events for the UI's log panel."""

    def __init__(self, bus: EventBus) -> None:
        super().__init__()
        self.bus = bus

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_text:
                message = f"{message}\n{record.exc_text.splitlines()[-1]}"
            self.bus.publish(
                LogLine(category=str(getattr(record, "category", "")), level=record.levelname,
                        message=f"{record.name}: {message}")
            )
        except Exception:
            self.handleError(record)


def get_logger(name: str, category: Category) -> logging.LoggerAdapter[logging.Logger]:
    """A logger whose records carry ``category`` (callers may override per call)."""
    return _CategoryAdapter(logging.getLogger(name), {"category": category})


class _CategoryAdapter(logging.LoggerAdapter[logging.Logger]):
    def process(self, msg, kwargs):  # type: ignore[no-untyped-def]
        extra = dict(self.extra or {})
        extra.update(kwargs.get("extra") or {})
        kwargs["extra"] = extra
        return msg, kwargs


def setup_logging(
    log_dir: Path,
    redactor: Redactor,
    bus: EventBus | None = None,
    level: int = logging.INFO,
    stderr_level: int = logging.WARNING,
) -> Path:
    """Rotating file in ``log_dir`` + terminal + bus; returns the log file path."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / "voxelle.log"
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_voxelle", False):
            root.removeHandler(handler)
            handler.close()
    redacting = RedactingFilter(redactor)
    formatter = logging.Formatter(LOG_FORMAT)
    file_handler = logging.handlers.RotatingFileHandler(
        log_file, maxBytes=2_000_000, backupCount=5, encoding="utf-8"
    )
    handlers: list[logging.Handler] = [file_handler]
    term = logging.StreamHandler(sys.stderr)
    term.setLevel(stderr_level)
    handlers.append(term)
    if bus is not None:
        handlers.append(BusLogHandler(bus))
    for handler in handlers:
        handler.addFilter(redacting)
        handler.setFormatter(formatter)
        handler._voxelle = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(min(level, stderr_level))
    for noisy in ("httpx", "httpcore", "websockets", "discord", "twitchio", "asyncio", "faster_whisper"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return log_file
