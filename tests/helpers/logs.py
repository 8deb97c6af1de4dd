"""What the service logs, and what it must never log: every log line of the session, the
secrets and personal information the suite made or sent, and the scan of servers' own logs
(conftest.secrets_never_logged fails the session on a leak)."""

from __future__ import annotations

import base64
import json
import logging
import re
from pathlib import Path
from typing import Any

import httpx

from app.logs import ContextFilter, JsonFormatter

# Every secret the tests create: API and partner keys, passwords, OTPs, webhook secrets.
SECRETS: set[str] = set()
# Personal information the suite sends (account numbers, names and descriptions carrying a
# test's marker): none of it may appear in any log line either (conftest.secrets_never_logged).
PERSONAL: set[str] = {"12345670", "23456789"}


# Apps started in this process: their logs must reach the scan (those of servers started as
# subprocesses go to the subprocess's own output).
IN_PROCESS_APPS: list[Any] = []


# Every log line of the session, formatted as shipped (JSON); tests may look at them.
LOG_LINES: list[str] = []


def remember_secret(*values: str | None) -> None:
    """Each value, and its base64 form as it travels in headers (`Basic …`, `X-Partner-Key`)."""
    for value in values:
        if value and len(value) >= 8:
            SECRETS.update((value, base64.b64encode(value.encode()).decode()))


def remember_personal(*values: str) -> None:
    PERSONAL.update(v for v in values if len(v) >= 8)


def remember_credentials(username: str, password: str) -> None:
    """One-time credentials: the password, and the `Basic` pair QuickBooks sends."""
    remember_secret(password, f"{username}:{password}")


def remember_answered_secrets(r: httpx.Response) -> None:
    """The secrets an API answer shows once: a webhook signing secret, one-time credentials."""
    if r.status_code not in (200, 201) or "json" not in r.headers.get("content-type", ""):
        return
    body = r.json()
    if isinstance(body, dict):
        remember_secret(body.get("secret"))
        for url in (body.get("linkUrl"), body.get("redirect")):
            if isinstance(url, str):
                remember_secret(otp_in(url))
        if isinstance(body.get("username"), str) and isinstance(body.get("password"), str):
            remember_credentials(body["username"], body["password"])


def request_log(path: str) -> dict[str, Any]:
    """The latest request log line (as shipped, JSON) for `path`."""
    for line in reversed(LOG_LINES):
        entry: dict[str, Any] = json.loads(line)
        if entry["logger"] == "app.request" and entry.get("path") == path:
            return entry
    raise AssertionError(f"no request log line for {path}")


# Log lines of server processes the tests started (their log files), scanned with the rest.
SERVER_LOG_LINES: list[str] = []


def scan_server_log(path: Path) -> None:
    if path.exists():
        scan_output(path.read_bytes())


def scan_output(output: bytes | None) -> None:
    """A subprocess's captured output (a worker's stderr), scanned with the suite's logs."""
    if output:
        SERVER_LOG_LINES.extend(output.decode(errors="replace").splitlines())


def otp_in(link_url: str) -> str | None:
    match = re.search(r"[?&]otp=([^&]+)", link_url)
    return match.group(1) if match else None


class Collect(logging.Handler):
    """Keeps every log line the service writes, formatted as it ships (JSON), in LOG_LINES."""

    def __init__(self) -> None:
        super().__init__()
        self.lines = LOG_LINES
        self.setFormatter(JsonFormatter())
        self.addFilter(ContextFilter())

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(("httpx", "httpcore")):
            return  # the test client's own log of the URLs it requests, not the service's
        self.lines.append(self.format(record))
