"""structlog setup: JSON lines when not on a terminal, trace id bound per message/request.

Standard-library loggers (nats, asyncpg, uvicorn, faststream) go through the same renderer,
so every line of a service has one shape.

No format ever renders a traceback's local variables: they hold what a request carried
(passwords, tokens, a producer's whole payload), and rendering a large one blocked the event
loop for seconds (structlog's console renderer shows them by default, through Rich).
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog
from structlog.typing import ExceptionRenderer

from .settings import LogFormat


def _redact_secrets(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> Mapping[str, Any]:
    """Last line of defence: a secret passed to a log call is never written, neither as a
    value whose name says it is one (``password=``, ``token=``) nor inside text (a library's
    message with a URL's ``?token=…``, an error's ``Bearer …``; the audit trail's rules,
    :mod:`pulse_runtime.audit.text_secrets`, which imports this module through its package:
    hence the import here, a lookup in ``sys.modules`` after the first)."""
    from .audit.text_secrets import is_secret_name, redact_text  # noqa: PLC0415

    for key, value in event_dict.items():
        if is_secret_name(key):
            event_dict[key] = "[redacted]"
        elif isinstance(value, str):
            event_dict[key] = redact_text(value)
    return event_dict


def configure_logging(service: str, level: str = "info", log_format: LogFormat = "auto") -> None:
    """Configure structlog and route stdlib logging through it; call once in ``main()``."""
    on_terminal = sys.stderr.isatty()
    as_json = log_format == "json" or (log_format == "auto" and not on_terminal)
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(
            colors=on_terminal, exception_formatter=_traceback_without_locals(on_terminal)
        )
    )
    structlog.configure(
        processors=[
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info if as_json else _identity,
            # Here, not before: only lines the level lets through, and the traceback too.
            _redact_secrets,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's default log config (any server started without ours) gives its loggers their
    # own handlers and stops them propagating: take them back, so they render as ours.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    # Access logs of the health listener and uvicorn's own are noise at info level.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    # Below info, uvicorn's WebSocket protocol logs every frame a client sends, tokens included
    # (through uvicorn.error, or the websockets library's own logger).
    for frame_logger in ("uvicorn.error", "websockets"):
        logging.getLogger(frame_logger).setLevel(max(root.level, logging.INFO))
    adopt_library_loggers()
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)


def adopt_library_loggers(prefix: str = "faststream") -> None:
    """Send a library's self-configured loggers through ours: one line shape, one stream.

    FastStream gives its loggers their own stdout handlers (at import and again on connect);
    only its warnings and errors are worth a line here.
    """
    for name in list(logging.root.manager.loggerDict):
        if name == prefix or name.startswith(prefix + "."):
            library_logger = logging.getLogger(name)
            library_logger.handlers.clear()
            library_logger.propagate = True
            library_logger.setLevel(logging.WARNING)


def _traceback_without_locals(colors: bool) -> ExceptionRenderer:
    """The console's traceback: Rich's on a terminal, plain otherwise; never the locals (JSON
    lines use ``format_exc_info``, which never shows them)."""
    if colors and importlib.util.find_spec("rich") is not None:
        return structlog.dev.RichTracebackFormatter(show_locals=False)
    return structlog.dev.plain_traceback


def _identity(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> Mapping[str, Any]:
    return event_dict


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
