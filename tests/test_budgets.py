"""Budgets one client cannot spend for another (issue 28, second half): the Link page's
credentials per session, the argon2 pool, IDX limits decided before hashing, per-environment
in-flight caps and webhook shares, and portal sign-in limits that only hurt the attacker."""

from __future__ import annotations

import asyncio
import re
import threading
import time
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import hashing
from app.config import Settings
from app.credentials import service as credentials_service
from app.credentials.tables import Credential
from app.errors import TooManyRequests
from tests.helpers import (
    Api,
    Idx,
    TenantKeys,
    remember_credentials,
)
from tests.test_link import csrf_of, link_url, open_link

SHOWN = re.compile(r'<code id="username">([^<]+)</code>.*?<code id="password">([^<]+)</code>', re.S)


async def _ready_link(client: httpx.AsyncClient, api: Api) -> tuple[str, str]:
    """A Link session past the location step: (its csrf token, the connection id)."""
    url, _, connection = await link_url(api)
    await open_link(client, url)
    token = csrf_of((await client.get("/link/setup")).text)
    ok = await client.post("/link/location", data={"csrf": token, "location": "us-ca"})
    assert ok.status_code == 303
    return token, connection["id"]


def _shown(r: httpx.Response) -> tuple[str, str]:
    assert r.status_code == 200, r.text[:300]
    found = SHOWN.search(r.text)
    assert found, r.text[:300]
    remember_credentials(found[1], found[2])
    return found[1], found[2]


async def _sets_of(sessions: async_sessionmaker[AsyncSession], connection_id: str) -> int:
    async with sessions() as session:
        stmt = select(func.count()).where(Credential.connection_id == uuid.UUID(connection_id))
        return int((await session.execute(stmt)).scalar_one())


# ---- Link: "Get credentials" has a budget per session ----------------------------------------


async def test_a_link_session_makes_at_most_its_budget_and_each_set_replaces_the_last(
    client: httpx.AsyncClient,
    api: Api,
    tenant: TenantKeys,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    token, connection_id = await _ready_link(client, api)
    key = tenant.partner_keys["production"]
    first = _shown(await client.post("/link/credentials", data={"csrf": token}))
    used = Idx(client, *first, key)
    assert (await used.get("/accounts")).status_code == 200, "QuickBooks signs in with the first"
    second = _shown(await client.post("/link/credentials", data={"csrf": token}))
    assert (await used.get("/accounts")).status_code == 200, "a set in use is never revoked"
    third = _shown(await client.post("/link/credentials", data={"csrf": token}))
    assert (await Idx(client, *second, key).get("/accounts")).status_code == 401, (
        "the unused set was replaced by the next one"
    )
    assert (await Idx(client, *third, key).get("/accounts")).status_code == 200
    assert settings.link_credentials_per_session == 3
    spent = await client.post("/link/credentials", data={"csrf": token})
    assert spent.status_code == 429
    assert 'id="credentials-spent"' in spent.text and "ask" in spent.text
    assert '<code id="password">' not in spent.text
    assert await _sets_of(sessions, connection_id) == 3
    french = await client.post("/link/language", data={"csrf": token, "lang": "fr"})
    assert french.status_code == 303
    spent_fr = await client.post("/link/credentials", data={"csrf": token})
    assert "le nombre maximal de jeux d'identifiants" in spent_fr.text


async def test_a_flood_of_presses_on_one_session_cannot_mint_more_than_its_budget(
    client: httpx.AsyncClient, api: Api, sessions: async_sessionmaker[AsyncSession]
) -> None:
    token, connection_id = await _ready_link(client, api)
    presses = await asyncio.gather(
        *(client.post("/link/credentials", data={"csrf": token}) for _ in range(20))
    )
    made = [r for r in presses if r.status_code == 200]
    for r in made:
        _shown(r)
    assert len(made) == 3 and {r.status_code for r in presses} == {200, 429}
    assert await _sets_of(sessions, connection_id) == 3


# ---- the argon2 pool: bounded, and full means 429 at once ----------------------------------


async def test_a_full_hashing_pool_refuses_at_once_and_a_late_job_never_runs() -> None:
    pool = hashing.Pool(threads=1, queue=1, wait_seconds=0.5)
    release = threading.Event()
    ran: list[str] = []

    def job(name: str) -> str:
        ran.append(name)
        release.wait(10)
        return name

    try:
        running = asyncio.create_task(pool.run(job, "first"))
        waiting = asyncio.create_task(pool.run(job, "second"))
        await asyncio.sleep(0)  # both admitted: one on the thread, one in the queue
        started = time.monotonic()
        with pytest.raises(TooManyRequests) as refused:
            await pool.run(job, "third")
        assert time.monotonic() - started < 0.1, "refused at once, not after a wait"
        assert refused.value.headers["Retry-After"] == "1"
        with pytest.raises(TooManyRequests):
            await waiting  # no thread freed up within wait_seconds: dropped, not run later
        release.set()
        assert await running == "first"
        assert ran == ["first"], "the dropped job never ran"
        assert pool.admitted == 0
    finally:
        release.set()
        pool.close()


async def test_every_argon2_call_runs_on_the_bounded_pool(
    client: httpx.AsyncClient,
    api: Api,
    tenant: TenantKeys,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """New credentials, the IDX check and its decoy: all on the pool's own threads."""
    threads: list[str] = []
    for name in ("hash", "verify", "dummy_verify"):
        real = getattr(credentials_service.HASHER, name)

        def watched(*args: Any, _real: Any = real, **kw: Any) -> Any:
            threads.append(threading.current_thread().name)
            return _real(*args, **kw)

        monkeypatch.setattr(credentials_service.HASHER, name, watched)
    token, _ = await _ready_link(client, api)
    username, password = _shown(await client.post("/link/credentials", data={"csrf": token}))
    key = tenant.partner_keys["production"]
    assert (await Idx(client, username, password, key).get("/accounts")).status_code == 200
    assert (await Idx(client, "NO-SUCH-USER", password, key).get("/accounts")).status_code == 401
    assert len(threads) >= 3 and all(t.startswith("argon2") for t in threads), threads
