"""Logging with the request's correlation id (and tenant) on every line.

Every record of the process, ours and the libraries' (arq, uvicorn, httpx, asyncio), goes through
the one JSON formatter, tracebacks included; no URL keeps its query string (tokens travel there).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from traceback import TracebackException
from types import TracebackType
from typing import Any

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
tenant_id: ContextVar[str | None] = ContextVar("tenant_id", default=None)

# scheme://anything-but-space-or-quote, then ?query (up to a space, quote or fragment).
_QUERY = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s?#\"'<>]*)\?[^\s#\"'<>]*")
# Libraries that log every HTTP call they make with its full URL at INFO: warnings only.
QUIET_LOGGERS = ("httpx", "httpcore", "hpack")


def without_queries(text: str) -> str:
    """The text with the query string of every URL in it cut off."""
    return _QUERY.sub(r"\1", text)


def frames_only(exc: BaseException) -> str:
    """The traceback of exc and its causes: where, in which function, of which type, but not the
    messages, which can carry SQL, parameters or secrets (docs/SECURITY.md)."""
    parts: list[str] = []
    seen: TracebackException | None = TracebackException.from_exception(exc)
    while seen is not None:
        parts.append("Traceback (most recent call last):\n" + "".join(seen.stack.format()))
        parts.append(f"{seen.exc_type.__qualname__ if seen.exc_type else 'Exception'}\n")
        seen = seen.__cause__ or seen.__context__
        if seen is not None:
            parts.append("\nwhile handling, or caused by:\n")
    return "".join(parts)


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = correlation_id.get() or "-"
        record.tenant = tenant_id.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: what log shippers expect, and easy to grep in tests."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": without_queries(record.getMessage()),
            "correlationId": getattr(record, "correlation_id", "-"),
            "tenant": getattr(record, "tenant", "-"),
        }
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            line.update(
                {k: without_queries(v) if isinstance(v, str) else v for k, v in extra.items()}
            )
        if record.exc_info and record.exc_info[1] is not None:
            line["exc"] = type(record.exc_info[1]).__name__
            line["traceback"] = without_queries(frames_only(record.exc_info[1]))
        elif record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    """For a person at a terminal (`bankfeeds dev`): time, level, logger, message, then the
    correlation id and any fields; the same traceback rule as the JSON lines."""

    def format(self, record: logging.LogRecord) -> str:
        line = (
            f"{self.formatTime(record, '%H:%M:%S')} {record.levelname:<7} {record.name}: "
            f"{without_queries(record.getMessage())}"
        )
        cid = getattr(record, "correlation_id", "-")
        if cid != "-":
            line += f"  [{cid}]"
        if record.exc_info and record.exc_info[1] is not None:
            line += "\n" + without_queries(frames_only(record.exc_info[1])).rstrip()
        return line


# Jobs the worker runs every few seconds: arq's start and finish lines for them are DEBUG, so an
# idle service's log stays quiet (their own summary is DEBUG too when there was nothing to do).
TICKS = ("cron:deliver_webhooks",)


class IdleTicks(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "arq.worker" and record.levelno == logging.INFO:
            args = record.args if isinstance(record.args, tuple) else ()
            if any(arg in TICKS for arg in args):  # the job's ref is one of the arguments
                record.levelno, record.levelname = logging.DEBUG, "DEBUG"
                return logging.getLogger().getEffectiveLevel() <= logging.DEBUG
        return True


def _log_uncaught(
    kind: type[BaseException], value: BaseException, trace: TracebackType | None
) -> None:
    """An exception that ends the process is one JSON line too, not a plain-text traceback."""
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value, trace)
        return
    logging.getLogger("app").critical(
        "uncaught %s: the process exits", kind.__name__, exc_info=(kind, value, trace)
    )


def setup_logging(level: str = "INFO", *, text: bool | None = None) -> None:
    """JSON lines on stderr; readable text lines instead when `text` (a terminal, in `dev`).
    Called again, it changes the level (and the format if `text` is given), never adds a second
    handler."""
    root = logging.getLogger()
    for handler in root.handlers:
        if getattr(handler, "_bankfeeds", False):
            root.setLevel(level.upper())
            if text is not None:
                handler.setFormatter(TextFormatter() if text else JsonFormatter())
            return
    handler = logging.StreamHandler()
    handler.setFormatter(TextFormatter() if text else JsonFormatter())
    handler.addFilter(ContextFilter())
    handler.addFilter(IdleTicks())
    handler._bankfeeds = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    # uvicorn's access log would repeat our request line without the correlation id.
    logging.getLogger("uvicorn.access").disabled = True
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    sys.excepthook = _log_uncaught
