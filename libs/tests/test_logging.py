"""Every log format renders tracebacks without the local variables of the failing code."""

from __future__ import annotations

import io
import logging
import re
import sys
from collections.abc import Iterator

import pytest
import structlog
from pulse_runtime.logging import configure_logging
from pulse_runtime.settings import LogFormat

CANARY = "canary-3f9a1c-hunter2"
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


class Terminal(io.StringIO):
    """Standard error as a terminal: what turns the console format's colours on."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def check_password(email: str, password: str) -> None:
    payload = {"email": email, "password": password, "padding": "x" * 200_000}
    raise ValueError(f"no account for {len(payload)} fields")


FORMATS = [
    pytest.param("json", io.StringIO, id="json"),
    pytest.param("console", io.StringIO, id="console-monochrome"),
    pytest.param("console", Terminal, id="console-colours"),
    pytest.param("auto", io.StringIO, id="auto-off-a-terminal"),
    pytest.param("auto", Terminal, id="auto-on-a-terminal"),
]


@pytest.mark.parametrize(("log_format", "stream_type"), FORMATS)
def test_a_logged_exception_shows_its_traceback_but_no_local_variables(
    log_format: LogFormat, stream_type: type[io.StringIO], monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = stream_type()
    monkeypatch.setattr(sys, "stderr", stream)
    configure_logging("test", "info", log_format)
    log = structlog.stdlib.get_logger("pulse_test.logging")
    try:
        check_password("someone@example.com", CANARY)
    except ValueError as exc:
        log.exception("login failed")
        log.error("login failed again", exc_info=exc)
        # A library's own stdlib logger (FastStream, asyncio, uvicorn) takes the same path.
        logging.getLogger("some.library").exception("handler failed")
    output = ANSI_ESCAPE.sub("", stream.getvalue())  # colours could split a word
    assert CANARY not in output, output[-3000:]  # no values of the failing code's variables
    assert "x" * 40 not in output  # (its payload either)
    assert output.count("no account for 3 fields") == 3, output[-3000:]  # but the traceback
    assert "check_password" in output


def test_a_secret_passed_as_a_field_is_redacted_in_every_format(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for log_format, stream in (("json", io.StringIO()), ("console", Terminal())):
        monkeypatch.setattr(sys, "stderr", stream)
        configure_logging("test", "info", log_format)  # type: ignore[arg-type]
        structlog.stdlib.get_logger("pulse_test.logging").info("login", password=CANARY)
        assert "login" in stream.getvalue()
        assert CANARY not in stream.getvalue()


def test_websocket_frames_are_not_logged_even_at_debug_level(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """uvicorn's WebSocket protocol logs each frame's content at debug level: tokens too."""
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    configure_logging("test", "debug", "json")
    for name in ("uvicorn.error", "websockets"):
        logging.getLogger(name).debug("< TEXT '%s' [65 bytes]", CANARY)
        logging.getLogger(name).info("connection open")
    logging.getLogger("pulse_test").debug("still at debug")
    output = stream.getvalue()
    assert CANARY not in output
    assert output.count("connection open") == 2
    assert "still at debug" in output


def test_a_secret_inside_a_library_message_or_a_traceback_is_redacted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """uvicorn logs a socket's path with its query (``/ws?token=…``) at info level; an
    exception's message may quote what it was given."""
    token = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl"
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    configure_logging("test", "info", "json")
    logging.getLogger("uvicorn.error").info(
        '%s - "WebSocket %s" [accepted]', "1.2.3.4", f"/ws?token={token}"
    )
    try:
        raise ValueError(f"refused Authorization: Bearer {token}")
    except ValueError:
        structlog.stdlib.get_logger("pulse_test").exception("broken")
    output = stream.getvalue()
    assert "WebSocket /ws?token=[REDACTED]" in output
    assert "Traceback" in output
    assert token not in output
