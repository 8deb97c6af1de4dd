"""Budgets one client cannot spend for another (issue 28, second half): the Link page's
credentials per session, the argon2 pool, IDX limits decided before hashing, per-environment
in-flight caps and webhook shares, and portal sign-in limits that only hurt the attacker."""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from redis.asyncio.connection import AbstractConnection
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request

from app import clock, hashing
from app.config import Settings
from app.credentials import service as credentials_service
from app.credentials.tables import Credential
from app.db import make_engine, transaction
from app.kit.errors import TooManyRequests
from app.kit.services import Services
from app.main import create_app
from app.webhooks import events as webhooks
from tests.helpers.builders import TenantKeys, linked_on, make_tenant
from tests.helpers.clients import Api, Idx, assert_error, csrf_of
from tests.helpers.dns import Zone, silent_dns
from tests.helpers.feeds import NOW
from tests.helpers.hostile import hostile
from tests.helpers.link import link_url, open_link
from tests.helpers.logs import remember_credentials
from tests.helpers.portal import Staff, add_user, portal_app
from tests.helpers.receiver import receiver
from tests.helpers.webhooks import app_with, deliver, limits, subscribe

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


# ---- DNS off the request path -----------------------------------------------------------------


async def test_registration_has_one_answer_for_private_and_missing_names(
    settings: Settings, tenant: TenantKeys, dns_zone: Zone
) -> None:
    """No internal DNS oracle: a name resolving to a private address and one that does not
    exist get the same 400 and the same words (but for the name itself)."""
    private = f"in-{uuid.uuid4().hex[:8]}.corp.example.org"
    dns_zone.names[private] = ["10.1.2.3"]
    async with app_with(settings, webhook_allowed_networks="") as http:
        api = Api(http, tenant.headers)
        answers = []
        for host in (private, f"gone-{uuid.uuid4().hex[:8]}.example.org"):
            r = await api.call("POST", "/webhooks/endpoints", {"url": f"https://{host}/hook"})
            answers.append(assert_error(r, 400)["error"].replace(host, "HOST"))
        fec0 = await api.call("POST", "/webhooks/endpoints", {"url": "http://[fec0::1]/"})
        assert "site-local" in assert_error(fec0, 400)["error"]
        assert (await api.call("GET", "/webhooks/endpoints")).json()["results"] == []
    assert answers[0] == answers[1], answers
    assert "could not be checked, or does not reach only public addresses" in answers[0]


async def test_never_answering_dns_is_a_retryable_refusal_and_hurts_no_one_else(
    settings: Settings, tenant: TenantKeys, other_tenant: TenantKeys
) -> None:
    """Ten registrations whose names are never answered: each ends 503 with Retry-After after
    the resolver's deadline, nothing is stored; meanwhile another tenant's requests, the
    loop's own getaddrinfo (its shared executor: new database connections resolve there) and a
    brand-new database connection are as quick as ever."""
    with silent_dns() as nowhere:
        hanging = {"webhook_dns_servers": nowhere, "webhook_dns_timeout_seconds": 3.0}
        async with app_with(settings, **hanging) as http:
            api = Api(http, tenant.headers)
            started = time.monotonic()
            registrations = [
                asyncio.create_task(
                    api.call("POST", "/webhooks/endpoints", {"url": f"https://h{i}.nowhere.org/"})
                )
                for i in range(10)
            ]
            await asyncio.sleep(0.5)  # all ten are waiting on the silent server
            other = Api(http, other_tenant.headers)
            quick = time.monotonic()
            assert (await other.call("GET", "/companies")).status_code == 200
            await asyncio.get_running_loop().getaddrinfo("localhost", 5432)
            engine = make_engine(fresh_connection_settings(settings))
            try:
                async with engine.connect() as conn:
                    assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
            finally:
                await engine.dispose()
            assert time.monotonic() - quick < 2.0, "others waited on the hanging look-ups"
            assert not any(t.done() for t in registrations), "still waiting on the DNS"
            answers = await asyncio.gather(*registrations)
            took = time.monotonic() - started
            for r in answers:
                body = assert_error(r, 503)
                assert body["canBeRetried"] == "True"
                assert int(r.headers["retry-after"]) >= 1
                assert (
                    "could not be checked, or does not reach only public addresses"
                    in (body["error"])
                )
            assert took < 3.0 + 3.0, f"the deadline holds ({took:.1f} s)"
            assert (await api.call("GET", "/webhooks/endpoints")).json()["results"] == []


def fresh_connection_settings(settings: Settings) -> Settings:
    """The suite's database by a host *name* (PostgreSQL), so connecting resolves it."""
    url = settings.database_url
    if url:
        url = url.replace("@127.0.0.1", "@localhost")
    return settings.model_copy(update={"database_url": url})


# ---- every budget per environment ----------------------------------------------------------


async def test_a_sandbox_flood_leaves_production_its_own_requests_in_flight(
    settings: Settings, tenant: TenantKeys
) -> None:
    """Ten slow sandbox requests hold every sandbox slot; production still answers."""
    async with app_with(settings, rate_limit_concurrency=10) as http:
        application = http._transport.app  # type: ignore[attr-defined]
        limits = application.state.limits
        slow = [
            Request({"type": "http", "method": "GET", "path": "/", "headers": []})
            for _ in range(10)
        ]
        for request in slow:
            await limits.enter_tenant(request, uuid.UUID(tenant.id), "sandbox")
        try:
            sandbox = await http.get("/companies", headers=tenant.sandbox_headers)
            assert_error(sandbox, 429)
            live = await asyncio.gather(
                *(http.get("/companies", headers=tenant.headers) for _ in range(9))
            )
            assert [r.status_code for r in live] == [200] * 9, "production has slots of its own"
        finally:
            for request in slow:
                await limits.leave(request)
            await limits.give_back()


async def test_a_sandbox_backlog_leaves_production_its_own_delivery_share(
    settings: Settings, tenant: TenantKeys, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Nine slow sandbox endpoints with a backlog: production's webhook is sent in the same
    run, at once, not after them."""
    async with app_with(settings) as http:
        sandbox_api = Api(http, tenant.sandbox_headers)
        api = Api(http, tenant.headers)
        with hostile("slow", delay=2.0) as slow, receiver() as rec:
            slow_ones = [await subscribe(sandbox_api, f"{slow.url}?n={n}") for n in range(9)]
            _, secret = await subscribe(api, rec.url)
            rec.secret = secret
            async with transaction(sessions) as session:
                for n in range(18):
                    await webhooks.emit(
                        session, uuid.UUID(tenant.id), "sandbox", "connection.connected", {"n": n}
                    )
            async with transaction(sessions) as session:
                await webhooks.emit(
                    session, uuid.UUID(tenant.id), "production", "connection.connected", {}
                )
            lim = limits(settings, webhook_tenant_concurrency=2, webhook_timeout_seconds=5.0)
            run = asyncio.create_task(deliver(sessions, lim))
            started = time.monotonic()
            for _ in range(200):  # polls the receiver's thread, up to 10 s
                if rec.received:
                    break
                await asyncio.sleep(0.05)
            waited = time.monotonic() - started
            run.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await run
            for endpoint_id, _ in slow_ones:  # their backlog goes too: no other test sends it
                r = await sandbox_api.call("DELETE", f"/webhooks/endpoints/{endpoint_id}")
                assert r.status_code == 204, r.text
    assert rec.received, "production's webhook was never sent"
    assert waited < 1.5, f"production waited {waited:.1f} s behind the sandbox"


# ---- portal sign-in limits that only hurt the attacker ---------------------------------------


async def test_staff_signs_in_during_a_sign_in_flood_from_40_addresses(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """40 addresses x 20 wrong tries (more than the old 600-a-minute global cap) while the
    hashing pool is full: the staff member's right password, from an address with no
    failures, still gets through; the flood is refused by the full pool, not the staff."""
    clock.freeze(NOW)
    tenant = await make_tenant(sessions)
    email, password = await add_user(sessions, tenant.name)
    attackers = [f"198.51.{i // 200}.{i % 200 + 1}" for i in range(40)]
    limits = {"portal_sign_ins_per_minute": 20, "hash_concurrency": 1, "hash_queue": 2}
    async with portal_app(settings, *attackers, "203.0.113.77", **limits) as (_, clients):
        *bots, office = clients
        answers: Counter[int] = Counter()

        async def attack(http: httpx.AsyncClient) -> None:
            for n in range(20):
                r = await Staff(http, f"who{n}@example.test", "wrong-password-0").sign_in()
                answers[r.status_code] += 1

        flood = [asyncio.create_task(attack(bot)) for bot in bots]
        await asyncio.sleep(0.3)  # under way: the pool and its queue are full
        staff = await Staff(office, email, password).sign_in()
        await asyncio.gather(*flood)
    assert staff.status_code == 303, staff.text[:300]
    assert answers[429] > 0 and answers[401] > 0, answers
    assert sum(answers.values()) == 800


async def test_staff_signs_in_during_an_email_slow_down_attack(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The report's attack: 175 wrong tries from 20 addresses over 150 s (app clock) keep the
    staff e-mail's slow-down busy; the real user, typing the right password every 5 s from an
    address that has not failed, is never slowed down."""
    clock.freeze(NOW)
    tenant = await make_tenant(sessions)
    email, password = await add_user(sessions, tenant.name)
    attackers = [f"198.51.100.{i + 1}" for i in range(20)]
    async with portal_app(settings, *attackers, "203.0.113.78") as (_, clients):
        *bots, office = clients
        slowed = 0
        staff_answers = []
        tries = 0
        for second in range(0, 150, 5):
            for _ in range(6 if second < 145 else 1):  # 175 in all
                r = await Staff(bots[tries % 20], email, f"guess-{tries}").sign_in()
                slowed += r.status_code == 429
                tries += 1
            staff_answers.append((await Staff(office, email, password).sign_in()).status_code)
            clock.shift(timedelta(seconds=5))
    assert tries == 175 and slowed > 0, "the attack did keep the e-mail slowed down"
    assert staff_answers == [303] * 30, staff_answers


async def test_an_idx_username_flood_costs_no_argon2_past_the_address_limit(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A partner-key holder's random usernames, 32 at once: once its address is past the limit
    every guess is 429 without the decoy hash, and QuickBooks' right credentials still pass."""
    decoys = 0
    real_dummy = credentials_service.HASHER.dummy_verify

    def counted() -> Any:
        nonlocal decoys
        decoys += 1
        return real_dummy()

    monkeypatch.setattr(credentials_service.HASHER, "dummy_verify", counted)
    async with app_with(settings, idx_ip_lock_after=10) as http:
        idx, _ = await linked_on(http, sessions)
        answers: Counter[int] = Counter()

        async def guesses() -> None:
            for _ in range(10):
                name = f"RAND-{secrets.token_hex(4)}"
                r = await Idx(http, name, "guess", idx.partner_key).get("/accounts")
                answers[r.status_code] += 1

        await asyncio.gather(*(guesses() for _ in range(32)))
        assert (await idx.get("/accounts")).status_code == 200, "QuickBooks still gets in"
    assert sum(answers.values()) == 320 and answers[429] >= 320 - 10 - 32, answers
    assert decoys <= 10 + 32, f"{decoys} decoy hashes for 320 guesses"


# ---- a refused flood request costs no database work and one Redis round trip ------------------

PROXY = "203.0.113.50"  # the in-process app's peer, trusted to name the caller (X-Forwarded-For)


@contextlib.asynccontextmanager
async def flood_app(
    settings: Settings, **changes: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, Services]]:
    """An app of its own (own Redis prefix) behind a trusted proxy, and its services."""
    prefix = f"{settings.redis_prefix}fl{secrets.token_hex(3)}:"
    own = settings.model_copy(
        update={"redis_prefix": prefix, "trusted_proxies": f"{PROXY}/32", **changes}
    )
    application = create_app(own)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, client=(PROXY, 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
            yield http, application.state.services


@contextlib.contextmanager
def costs(services: Services, monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """What the app spends meanwhile: connections taken from its pool, SQL statements, and
    Redis round trips (a command, a script or a pipeline sent is one)."""
    spent: Counter[str] = Counter()
    engine = services.engine.sync_engine

    def connection(*_: Any) -> None:
        spent["connections"] += 1

    def statement(*_: Any) -> None:
        spent["statements"] += 1

    send = AbstractConnection.send_packed_command

    async def round_trip(self: AbstractConnection, *args: Any, **kwargs: Any) -> None:
        spent["redis"] += 1
        await send(self, *args, **kwargs)

    event.listen(engine, "checkout", connection)
    event.listen(engine, "before_cursor_execute", statement)
    with monkeypatch.context() as patched:
        patched.setattr(AbstractConnection, "send_packed_command", round_trip)
        try:
            yield spent
        finally:
            event.remove(engine, "checkout", connection)
            event.remove(engine, "before_cursor_execute", statement)


async def test_refused_idx_requests_cost_one_redis_round_trip_and_no_database(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the address limit, a username never issued; a locked username; a spent window: each
    refusal is decided by one Redis script before the partner key is looked up (no connection
    taken, no statement run). QuickBooks' right credentials still pass from the flooding
    address."""
    clock.freeze(NOW)  # one minute's windows, however slow the machine
    limits = {
        "idx_ip_lock_after": 3,
        "idx_ip_unlisted_checks_per_minute": 2,
        "idx_throttle_after": 2,
        "idx_lock_after": 2,
        "idx_requests_per_minute": 4,
    }
    async with flood_app(settings, **limits) as (http, services):
        quickbooks, _ = await linked_on(http, sessions)

        async def sign_in(username: str, address: str, password: str = "guess") -> httpx.Response:
            idx = Idx(http, username, password, quickbooks.partner_key)
            headers = {**idx.headers, "X-Forwarded-For": address}
            return await http.get("/partners/intuit/idx/accounts", headers=headers)

        flooder = "198.51.100.7"
        for i in range(3):  # the address reaches its limit, each guess looked up
            assert (await sign_in(f"RAND-{i}", flooder)).status_code == 401
        for i in range(2):  # past it: two unlisted usernames a minute are still looked up
            assert_error(await sign_in(f"MORE-{i}", flooder), 429)
        with costs(services, monkeypatch) as flood:
            for _ in range(20):
                assert_error(await sign_in(f"RAND-{secrets.token_hex(4)}", flooder), 429)
        assert flood == {"redis": 20}, flood

        for _ in range(2):  # a username locked (from another address)
            assert (await sign_in("LOCK-ED", "198.51.100.8")).status_code == 401
        with costs(services, monkeypatch) as locked:
            assert_error(await sign_in("LOCK-ED", "198.51.100.8"), 429)
        assert locked == {"redis": 1}, locked

        for _ in range(4):  # a username's window spent (its last tries refused by the lock)
            await sign_in("BUSY-BUSY", "198.51.100.9")
        with costs(services, monkeypatch) as window:
            busy = assert_error(await sign_in("BUSY-BUSY", "198.51.100.9"), 429)
        assert window == {"redis": 1}, window
        assert "in a minute" in str(busy), busy

        right = await sign_in(quickbooks.username, flooder, quickbooks.password)
        assert right.status_code == 200, "QuickBooks still gets in from the flooded address"


async def test_a_press_on_a_spent_link_session_costs_no_database_work(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the database has said a session's budget is spent, further presses (from any
    address) are answered from Redis: one round trip (the press's window), no connection, the
    explanation in the page's language."""
    async with flood_app(settings) as (http, services):
        tenant = await make_tenant(sessions)
        token, connection_id = await _ready_link(http, Api(http, tenant.headers))
        for _ in range(3):
            _shown(await http.post("/link/credentials", data={"csrf": token}))
        told = await http.post("/link/credentials", data={"csrf": token})  # the database's word
        assert told.status_code == 429 and 'id="credentials-spent"' in told.text
        with costs(services, monkeypatch) as flood:
            presses = [
                await http.post(
                    "/link/credentials",
                    data={"csrf": token},
                    headers={"X-Forwarded-For": f"198.51.100.{i}"},
                )
                for i in range(10)
            ]
        assert flood == {"redis": 10}, flood
        for r in presses:
            assert r.status_code == 429 and 'id="credentials-spent"' in r.text, r.text[:300]
            assert tenant.name in r.text and '<code id="password">' not in r.text
        assert await _sets_of(sessions, connection_id) == 3
        french = await http.post("/link/language", data={"csrf": token, "lang": "fr"})
        assert french.status_code == 303
        for _ in range(2):  # the database again (the page changed), then Redis: both French
            spent = await http.post("/link/credentials", data={"csrf": token})
            assert spent.status_code == 429
            assert "le nombre maximal de jeux d'identifiants" in spent.text
