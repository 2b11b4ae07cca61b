from __future__ import annotations

import logging
from pathlib import Path

from voxelle_app.core.bus import EventBus
from voxelle_app.core.events import LogLine
from voxelle_app.core.logs import REDACTED, Category, Redactor, get_logger, setup_logging


def test_registered_secret_never_reaches_file_or_bus(tmp_path: Path) -> None:
    bus = EventBus()
    lines: list[LogLine] = []
    bus.subscribe(LogLine, lines.append)
    redactor = Redactor()
    log_file = setup_logging(tmp_path, redactor, bus)
    secret = "s3cr3t-oauth-token-value"
    redactor.register(secret)
    log = get_logger("voxelle.test", Category.API_REQUEST)
    log.info("got token %s for user", secret)
    try:
        raise RuntimeError(f"request failed with {secret}")
    except RuntimeError:
        log.exception("boom")
    for h in logging.getLogger().handlers:
        h.flush()
    text = log_file.read_text()
    assert secret not in text
    assert REDACTED in text and "API_REQUEST" in text
    assert all(secret not in line.message for line in lines)
    assert any(line.category == "API_REQUEST" for line in lines)


def test_token_shapes_are_redacted_even_unregistered() -> None:
    r = Redactor()
    assert "abcdef123456" not in r.redact("Authorization: Bearer abcdef123456")
    assert "zzz999zzz999" not in r.redact('{"access_token": "zzz999zzz999"}')
    assert "abcdefghij1234" not in r.redact("PASS oauth:abcdefghij1234")


def test_plain_text_is_untouched() -> None:
    assert Redactor().redact("the streamer said hello") == "the streamer said hello"


def test_records_without_category_get_one(tmp_path: Path) -> None:
    log_file = setup_logging(tmp_path, Redactor())
    logging.getLogger("voxelle.x").error("plain error")
    for h in logging.getLogger().handlers:
        h.flush()
    assert "ERROR   ERROR" in log_file.read_text()
