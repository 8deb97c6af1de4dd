"""The dev terminal's log: text lines for people, and the worker's idle ticks out of sight."""

from __future__ import annotations

import logging

import pytest

from app.logs import ContextFilter, IdleTicks, TextFormatter, correlation_id


def _record(name: str, msg: str, *args: object, level: int = logging.INFO) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


@pytest.mark.parametrize(
    ("msg", "args", "shown"),
    [
        ("%6.2fs → %s(%s)%s", (1.0, "cron:deliver_webhooks", "", ""), False),
        ("%6.2fs ← %s ● %s", (0.03, "cron:deliver_webhooks", "{}"), False),
        ("%6.2fs → %s(%s)%s", (1.0, "cron:daily_send", "", ""), True),
        ("Starting worker for %d functions: %s", (5, "daily_send, cron:deliver_webhooks"), True),
    ],
)
def test_idle_ticks_are_debug(msg: str, args: tuple[object, ...], shown: bool) -> None:
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)
    try:
        record = _record("arq.worker", msg, *args)
        assert IdleTicks().filter(record) is shown
        assert (record.levelno == logging.INFO) is shown
        root.setLevel(logging.DEBUG)  # BANKFEEDS_LOG_LEVEL=DEBUG shows them again
        assert IdleTicks().filter(_record("arq.worker", msg, *args)) is True
    finally:
        root.setLevel(level)


def test_text_lines_for_people() -> None:
    token = correlation_id.set("abc123")
    try:
        record = _record("app.request", "GET %s 200", "https://x.test/p?token=secret")
        ContextFilter().filter(record)
        line = TextFormatter().format(record)
    finally:
        correlation_id.reset(token)
    assert "INFO    app.request: GET https://x.test/p 200  [abc123]" in line
    assert "secret" not in line and not line.startswith("{")
