"""Shared test clients and builders: API clients, tenants and accounts, servers, and the
secrets every test remembers so the logs can be checked for them. Fixtures are in conftest.py."""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import make_engine, transaction
from app.tenants import service as tenants

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


def created_tenant(output: str) -> dict[str, Any]:
    """The JSON `tenants create --json` printed, its API and partner keys remembered as secrets."""
    made: dict[str, Any] = json.loads(output)
    remember_secret(made.get("apiKey"), made.get("sandboxApiKey"), *made["partnerKeys"].values())
    return made


def metric_value(text: str, name: str, **labels: str) -> float:
    """One sample of a /metrics answer (0 when it is absent), found by name and exact labels."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = (
        re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if labels else "") + r" ([0-9.e+]+)"
    )
    match = re.search(pattern, text)
    return float(match.group(1)) if match else 0.0


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


# Opened for the suite's loopback webhook receivers, explicitly
# (BANKFEEDS_WEBHOOK_ALLOWED_NETWORKS).
LOOPBACK_RECEIVERS = "127.0.0.0/8"


BIN = Path(sys.executable).parent / "bankfeeds"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    env: dict[str, str]
    log_path: Path


def server_env(settings: Settings) -> dict[str, str]:
    """The environment of a `bankfeeds serve` on the test database and Redis, with the suite's
    relaxed per-address limits (as `settings`)."""
    env = {
        **os.environ,
        "BANKFEEDS_DATA_DIR": str(settings.data_dir),
        "REDIS_URL": settings.redis_url or "",
        "BANKFEEDS_REDIS_PREFIX": settings.redis_prefix,
        "BANKFEEDS_IDX_REQUESTS_PER_MINUTE": str(settings.idx_requests_per_minute),
        "BANKFEEDS_LINK_REQUESTS_PER_MINUTE": str(settings.link_requests_per_minute),
        "BANKFEEDS_PORTAL_SIGN_INS_PER_MINUTE": str(settings.portal_sign_ins_per_minute),
        "BANKFEEDS_RATE_LIMIT_CONCURRENCY": str(settings.rate_limit_concurrency),
        "BANKFEEDS_WEBHOOK_ALLOWED_NETWORKS": settings.webhook_allowed_networks,
        "BANKFEEDS_WEBHOOK_DNS_SERVERS": settings.webhook_dns_servers,
    }
    if settings.database_url:
        env["DATABASE_URL"] = settings.database_url
    if settings.db_schema:
        env["BANKFEEDS_DB_SCHEMA"] = settings.db_schema
    return env


@contextmanager
def serve(env: dict[str, str], log_dir: Path, ready: str = "/readyz") -> Iterator[tuple[str, Path]]:
    """One `bankfeeds serve` process (uvicorn) on a free port, until `ready` answers 200.

    Its log goes to a file (a pipe nobody reads would fill and stall the server), scanned for
    secrets with the suite's own log lines when the server stops.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = log_dir / f"serve-{port}.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [str(BIN), "serve", "--port", str(port)],
            env={**env, "BANKFEEDS_PUBLIC_BASE_URL": url},
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{url}{ready}", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    proc.kill()
                    pytest.fail(f"bankfeeds serve did not start:\n{log_path.read_text()}")
                time.sleep(0.1)
            yield url, log_path
        finally:
            proc.terminate()
            proc.wait(timeout=15)
            scan_server_log(log_path)


ERROR_KEYS = {
    "statusCode",
    "service",
    "error",
    "correlationId",
    "validation",
    "canBeRetried",
    "detailedErrorCode",
}


def assert_error(r: httpx.Response, status: int) -> dict[str, Any]:
    """The answer is Codat's ErrorMessage with this status and the response's correlation id."""
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == ERROR_KEYS
    assert body["statusCode"] == status
    assert body["correlationId"] == r.headers["x-correlation-id"]
    return body  # type: ignore[no-any-return]


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(key.encode()).decode()}


@dataclass
class TenantKeys:
    id: str
    name: str
    api_key: str
    sandbox_key: str
    partner_keys: dict[str, str]

    @property
    def headers(self) -> dict[str, str]:
        return basic(self.api_key)

    @property
    def sandbox_headers(self) -> dict[str, str]:
        return basic(self.sandbox_key)


async def make_tenant(sessions: async_sessionmaker[AsyncSession], **kw: Any) -> TenantKeys:
    name = f"Tenant {secrets.token_hex(4)}"
    async with transaction(sessions) as session:
        made = await tenants.create_tenant(
            session, name, kw.get("time_zone", "America/Toronto"), 10
        )
    remember_secret(*made.api_keys.values(), *made.partner_keys.values())
    return TenantKeys(
        str(made.tenant.id),
        made.tenant.name,
        made.api_keys["production"],
        made.api_keys["sandbox"],
        made.partner_keys,
    )


@dataclass
class Api:
    """A thin client for tests: the tenant's headers on every call, JSON in and out."""

    http: httpx.AsyncClient
    headers: dict[str, str]

    async def call(self, method: str, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        r = await self.http.request(method, path, json=json, headers=self.headers, **kw)
        remember_answered_secrets(r)
        return r

    async def company(self, name: str = "Toft Stores") -> dict[str, Any]:
        r = await self.call("POST", "/companies", {"name": name})
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    async def connection(self, company_id: str) -> dict[str, Any]:
        r = await self.call("POST", f"/companies/{company_id}/connections", {"platformKey": "hcws"})
        assert r.status_code == 200, r.text
        remember_secret(otp_in(r.json()["linkUrl"]))
        return r.json()  # type: ignore[no-any-return]

    async def accounts_path(self) -> str:
        company = await self.company()
        connection = await self.connection(company["id"])
        base = f"/companies/{company['id']}/connections/{connection['id']}"
        return f"{base}/connectionInfo/bankFeedAccounts"


@dataclass
class Idx:
    """QuickBooks' side: the IDX API with a set of credentials and a partner key."""

    http: httpx.AsyncClient
    username: str
    password: str
    partner_key: str

    @property
    def headers(self) -> dict[str, str]:
        pair = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return {
            "Authorization": f"Basic {pair}",
            "X-Partner-Key": base64.b64encode(self.partner_key.encode()).decode(),
        }

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.http.get(
            f"/partners/intuit/idx{path}", params=params, headers=self.headers
        )


@dataclass
class Linkable:
    """A company, a connection with two source accounts, and a set of credentials."""

    api: Api
    company: dict[str, Any]
    connection: dict[str, Any]
    idx: Idx

    @property
    def connection_path(self) -> str:
        return f"/companies/{self.company['id']}/connections/{self.connection['id']}"

    @property
    def accounts_path(self) -> str:
        return f"{self.connection_path}/connectionInfo/bankFeedAccounts"

    async def new_credentials(self) -> Idx:
        r = await self.api.call("POST", f"{self.accounts_path}/credentials")
        assert r.status_code == 200, r.text
        body = r.json()
        remember_credentials(body["username"], body["password"])
        return Idx(self.idx.http, body["username"], body["password"], self.idx.partner_key)


def v1_account(account_id: str = "acc-1", **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": account_id,
        "accountName": "Business Checking",
        "accountType": "Debit",
        "accountNumber": "12345670",
        "sortCode": "021001088",
        "currency": "USD",
        "balance": 1234.56,
    }
    body.update(kw)
    return body


def v2_account(account_id: str = "acc-2", **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": account_id,
        "accountName": "Savings",
        "accountType": "savings",
        "accountNumber": "23456789",
        "routingInfo": {"bankCode": "021001088", "type": "aba"},
        "currency": "CAD",
        "balance": 400,
        "accountInfo": {"nickname": "Rainy day", "accountOpenDate": "2023-05-23"},
    }
    body.update(kw)
    return body


# Tests marked `configured(ON_POSTGRES, ...)` run only on PostgreSQL (see conftest.py).
ON_POSTGRES = bool(os.environ.get("DATABASE_URL"))


async def drop_schema(settings: Settings, schema: str) -> None:
    """Drop a PostgreSQL schema a test (or the session) made, with all in it."""
    engine = make_engine(settings.model_copy(update={"db_schema": None}))
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        await engine.dispose()
