"""Rate limits on real Redis: the tenant's daily quota and concurrency cap, IDX and Link limits.

Each limit is tested on an app of its own with small limits and a Redis prefix of its own, so
the suite's other tests (all from 127.0.0.1) never count against them.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import clock
from app.accounts.tables import SourceAccount
from app.config import Settings
from app.db import transaction
from app.kit.services import Services
from app.main import create_app
from tests.helpers import ON_POSTGRES, Api, Idx, Linkable, TenantKeys, assert_error, make_tenant

RATE_HEADERS = ("x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset")


@asynccontextmanager
async def app_with(settings: Settings, **limits: Any) -> AsyncIterator[httpx.AsyncClient]:
    own = settings.model_copy(
        update={"redis_prefix": f"{settings.redis_prefix}rl{secrets.token_hex(3)}:", **limits}
    )
    application = create_app(own)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, client=("198.51.100.9", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
            http.headers["X-Test-Prefix"] = own.redis_prefix  # for tests that look into Redis
            yield http


async def test_headers_on_successes_and_errors(api: Api) -> None:
    first = await api.call("GET", "/companies")
    assert first.status_code == 200
    missing = await api.call("GET", "/companies/00000000-0000-4000-8000-000000000000")
    assert_error(missing, 404)
    bad = await api.call("POST", "/companies", {"name": ""})
    assert_error(bad, 400)
    for r in (first, missing, bad):
        assert all(h in r.headers for h in RATE_HEADERS), r.headers
    used = [int(r.headers["x-rate-limit-remaining"]) for r in (first, missing, bad)]
    assert used == [used[0], used[0] - 1, used[0] - 2]
    reset = datetime.fromtimestamp(int(first.headers["x-rate-limit-reset"]), UTC)
    assert reset == datetime.combine(
        clock.now().date() + timedelta(days=1), datetime.min.time(), UTC
    )


async def test_daily_quota_resets_at_utc_midnight(settings: Settings, sessions: Any) -> None:
    tenant = await make_tenant(sessions)
    clock.freeze(datetime(2026, 3, 9, 23, 59, 30, tzinfo=UTC))
    async with app_with(settings, rate_limit_daily_quota=3) as http:
        answers = [await http.get("/companies", headers=tenant.headers) for _ in range(3)]
        assert [r.status_code for r in answers] == [200, 200, 200]
        assert [r.headers["x-rate-limit-remaining"] for r in answers] == ["2", "1", "0"]
        over = await http.get("/companies", headers=tenant.headers)
        body = assert_error(over, 429)
        assert body["canBeRetried"] == "True"
        assert 30 <= int(over.headers["retry-after"]) <= 31
        assert over.headers["x-rate-limit-remaining"] == "0"
        assert over.headers["x-rate-limit-reset"] == str(
            int(datetime(2026, 3, 10, tzinfo=UTC).timestamp())
        )
        # Another tenant has its own quota.
        other = await make_tenant(sessions)
        assert (await http.get("/companies", headers=other.headers)).status_code == 200

        clock.shift(timedelta(seconds=31))
        again = await http.get("/companies", headers=tenant.headers)
        assert again.status_code == 200
        assert again.headers["x-rate-limit-remaining"] == "2"


@pytest.mark.configured(ON_POSTGRES, "needs PostgreSQL: row locks let requests wait in flight")
async def test_concurrency_cap(
    settings: Settings,
    tenant: TenantKeys,
    services: Services,
    linkable: Linkable,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Two pushes waiting in flight (the test holds their account's row lock) hold both slots; a
    third request gets 429.

    A body still arriving holds no slot: the edge reads it before the request is authenticated
    (issue 28, tests/test_slow_clients.py), so the two are held inside the handler instead. On
    SQLite every request runs under the one write lock, so two are never in flight together.
    """
    push = f"{linkable.connection_path}/push/bankAccounts/chk-1/bankTransactions"
    connection = uuid.UUID(linkable.connection["id"])
    async with app_with(settings, rate_limit_concurrency=2) as http:
        async with transaction(sessions) as session:
            await session.execute(
                select(SourceAccount.pk)
                .where(SourceAccount.connection_id == connection)
                .where(SourceAccount.account_id == "chk-1")
                .with_for_update()
            )
            held = [
                asyncio.create_task(
                    http.post(
                        push,
                        json={"accountId": "chk-1", "transactions": []},
                        headers=tenant.headers,
                    )
                )
                for _ in range(2)
            ]
            busy = f"{http.headers['X-Test-Prefix']}rl:busy:{tenant.id}"
            for _ in range(500):  # until both have authenticated and wait on the lock
                if await services.redis.zcard(busy) == 2:
                    break
                await asyncio.sleep(0.01)
            third = await http.get("/companies", headers=tenant.headers)
            body = assert_error(third, 429)
            assert "at once" in body["error"]
            assert third.headers["retry-after"] == "1"
            assert all(h in third.headers for h in RATE_HEADERS)
        statuses = [(await t).status_code for t in held]
        assert all(s < 500 and s != 429 for s in statuses), statuses
        assert (await http.get("/companies", headers=tenant.headers)).status_code == 200


async def test_slots_are_given_back_without_a_round_trip_of_their_own(
    settings: Settings, tenant: TenantKeys, services: Services
) -> None:
    """A finished request's slot leaves Redis with the process's next request (in the same
    script), or on its own within GIVE_BACK_SECONDS when none comes, or at shut-down: a cap of 1
    never refuses a client calling one request after another."""
    async with app_with(settings, rate_limit_concurrency=1) as http:
        busy = f"{http.headers['X-Test-Prefix']}rl:busy:{tenant.id}"
        answers = [await http.get("/companies", headers=tenant.headers) for _ in range(5)]
        assert [r.status_code for r in answers] == [200] * 5
        for _ in range(500):  # no request follows the last: the timer gives its slot back
            if await services.redis.zcard(busy) == 0:
                break
            await asyncio.sleep(0.01)
        assert await services.redis.zcard(busy) == 0
        assert (await http.get("/companies", headers=tenant.headers)).status_code == 200
        prefix = http.headers["X-Test-Prefix"]
    # Shut down straight after a request: its slot is given back on the way out.
    assert await services.redis.zcard(f"{prefix}rl:busy:{tenant.id}") == 0


async def test_redis_down_fails_open(
    settings: Settings, tenant: TenantKeys, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with app_with(settings, redis_url="redis://127.0.0.1:1/0") as http:
        r = await http.post("/companies", json={"name": "Open Co"}, headers=tenant.headers)
        assert r.status_code == 200, r.text
        assert not any(h in r.headers for h in RATE_HEADERS)
    assert "rate limits unavailable" in caplog.text


async def test_idx_limit_per_username_and_address(settings: Settings, sessions: Any) -> None:
    tenant = await make_tenant(sessions)
    async with app_with(settings, idx_requests_per_minute=2) as http:
        key = tenant.partner_keys["production"]
        alice = Idx(http, "AAAA-BBBB-0001", "x" * 16, key)
        answers = [await alice.get("/accounts") for _ in range(2)]
        assert [a.status_code for a in answers] == [401, 401]
        assert [a.headers["x-rate-limit-remaining"] for a in answers] == ["1", "0"]
        assert answers[0].headers["x-rate-limit-limit"] == "2", "the IDX window's own limit"
        r = await alice.get("/accounts")
        assert_error(r, 429)
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert r.headers["x-rate-limit-remaining"] == "0"
        reset = int(r.headers["x-rate-limit-reset"])
        assert reset % 60 == 0 and 0 < reset - clock.now().timestamp() <= 60, "the window's end"
        # Another username is counted apart; calls with no username count per address.
        assert (
            await Idx(http, "AAAA-BBBB-0002", "x" * 16, key).get("/accounts")
        ).status_code == 401
        bare = [(await http.get("/partners/intuit/idx/accounts")).status_code for _ in range(3)]
        assert bare == [401, 401, 429]


async def test_link_pages_limit_per_address(settings: Settings) -> None:
    async with app_with(settings, link_requests_per_minute=2) as http:
        answers = [await http.get("/link/connect") for _ in range(2)]
        assert [a.status_code for a in answers] == [401, 401]
        assert [a.headers["x-rate-limit-remaining"] for a in answers] == ["1", "0"]
        assert answers[0].headers["x-rate-limit-limit"] == "2"
        r = await http.get("/link/connect?lang=fr")
        assert r.status_code == 429
        assert "Trop de demandes" in r.text
        assert int(r.headers["retry-after"]) >= 1
        assert "default-src 'none'" in r.headers["content-security-policy"]
        # The stylesheet is not counted, so the busy page still renders styled.
        assert (await http.get("/link/theme.css")).status_code == 200


async def test_openapi_declares_429_and_headers(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    push = doc["paths"]["/companies"]["post"]["responses"]
    assert "429" in push
    assert set(push["429"]["headers"]) == {
        "X-Rate-Limit-Limit",
        "X-Rate-Limit-Remaining",
        "X-Rate-Limit-Reset",
        "Retry-After",
    }
    assert "X-Rate-Limit-Remaining" in push["200"]["headers"]
    assert doc["components"]["headers"]["Retry-After"]["required"] is True
