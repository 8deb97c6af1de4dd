"""Webhooks cannot be turned against us: endpoints reach public addresses only (at registration
and at each send, on the address then connected to), a failed attempt shows only its category,
and delivery is bounded and fair against real silent, dripping, slow and flooding servers."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from ipaddress import ip_address
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import clock, vault
from app.config import Settings
from app.db import transaction
from app.webhooks import egress, repository
from app.webhooks import events as webhooks
from tests.helpers.builders import TenantKeys, make_tenant
from tests.helpers.clients import Api, assert_error
from tests.helpers.dns import Zone
from tests.helpers.hostile import closed_port_url, hostile
from tests.helpers.portal import Staff, add_user
from tests.helpers.receiver import receiver
from tests.helpers.webhooks import MUST_REFUSE, app_with, deliver, limits, subscribe
from tests.helpers.worker import run_job

PUBLIC = egress.Policy()


# ---- the address rules, table-driven -----------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("127.0.0.1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("192.0.2.1", "private"),  # documentation range
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fd00::1", "unique-local"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::ffff:169.254.169.254", "link-local"),
        ("::10.0.0.1", "private"),  # IPv4-compatible
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("93.184.215.14", None),
        ("8.8.8.8", None),
        ("2606:4700::1111", None),
    ],
)
def test_address_rules(address: str, problem: str | None) -> None:
    found = egress.address_problem(ip_address(address), PUBLIC)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found, found


@pytest.mark.parametrize(
    "spelling", ["2130706433", "0x7f000001", "0177.0.0.1", "127.1", "0x7f.1", "[::ffff:7f00:1]"]
)
def test_numeric_spellings_are_the_addresses_they_spell(spelling: str) -> None:
    ip = egress.literal(spelling)
    assert ip is not None
    assert egress.address_problem(ip, PUBLIC) is not None
    assert egress.literal("hooks.example.com") is None


def test_allowed_networks_open_exactly_their_range() -> None:
    policy = egress.Policy(
        allowed=Settings(webhook_allowed_networks="127.0.0.0/8").webhook_networks
    )
    assert egress.address_problem(ip_address("127.0.0.5"), policy) is None
    assert egress.address_problem(ip_address("10.0.0.1"), policy) is not None
    assert egress.address_problem(ip_address("::1"), policy) is not None
    with pytest.raises(ValueError, match="not a CIDR"):
        Settings(webhook_allowed_networks="10.0.0.0/8, nonsense")


# ---- registration ----------------------------------------------------------------------------


async def test_registration_refuses_local_addresses_by_default(
    settings: Settings, tenant: TenantKeys
) -> None:
    refused = [
        *MUST_REFUSE,
        "http://2130706433/",
        "http://0177.0.0.1/",
        "http://127.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fd12:3456::1]/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://100.64.0.1/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://localhost./",
        "http://intranet/",
        "http://printer.local/",
    ]
    async with app_with(settings, webhook_allowed_networks="") as http:
        api = Api(http, tenant.headers)
        for url in refused:
            body = assert_error(await api.call("POST", "/webhooks/endpoints", {"url": url}), 400)
            assert "refused" in body["error"] and "public addresses" in body["error"], body
            assert body["validation"]["errors"][0]["itemId"] == "url"
        named = await api.call("POST", "/webhooks/endpoints", {"url": "http://10.0.0.1/"})
        assert "10.0.0.1 is a private address" in named.json()["error"]
        meta = await api.call("POST", "/webhooks/endpoints", {"url": "http://169.254.169.254/"})
        assert "link-local" in meta.json()["error"]
        creds = await api.call("POST", "/webhooks/endpoints", {"url": "https://u:p@example.com/"})
        assert "user name or password" in assert_error(creds, 400)["error"]
        # A public address, and a public name (it need not resolve yet: sends check again).
        for url in ("https://93.184.215.14/hook", "https://hooks.example.com/bankfeeds"):
            assert (await api.call("POST", "/webhooks/endpoints", {"url": url})).status_code == 201
        assert len((await api.call("GET", "/webhooks/endpoints")).json()["results"]) == 2


async def test_https_only_when_the_service_is_public_over_https(
    settings: Settings, tenant: TenantKeys
) -> None:
    async with app_with(settings, public_base_url="https://feeds.example.com") as http:
        api = Api(http, tenant.headers)
        plain = await api.call("POST", "/webhooks/endpoints", {"url": "http://93.184.215.14/"})
        assert "only https" in assert_error(plain, 400)["error"]
        tls = await api.call("POST", "/webhooks/endpoints", {"url": "https://93.184.215.14/"})
        assert tls.status_code == 201


async def test_endpoints_are_capped_per_tenant_and_environment(
    settings: Settings, tenant: TenantKeys
) -> None:
    async with app_with(settings, webhook_max_endpoints=2) as http:
        api = Api(http, tenant.headers)
        sandbox = Api(http, tenant.sandbox_headers)
        for n in range(2):
            url = f"https://{n}.example.com/"
            assert (
                await sandbox.call("POST", "/webhooks/endpoints", {"url": url})
            ).status_code == 201
        third = await sandbox.call("POST", "/webhooks/endpoints", {"url": "https://c.example.com/"})
        assert "at most 2 webhook endpoints in sandbox" in assert_error(third, 400)["error"]
        for n in range(2):  # the sandbox's endpoints count nothing against production's
            url = f"https://p{n}.example.com/"
            assert (await api.call("POST", "/webhooks/endpoints", {"url": url})).status_code == 201
        third = await api.call("POST", "/webhooks/endpoints", {"url": "https://c.example.com/"})
        assert "at most 2 webhook endpoints in production" in assert_error(third, 400)["error"]


# ---- sending -----------------------------------------------------------------------------------


async def emit(
    sessions: async_sessionmaker[AsyncSession], tenant: TenantKeys, count: int = 1
) -> None:
    async with transaction(sessions) as session:
        for n in range(count):
            await webhooks.emit(
                session, uuid.UUID(tenant.id), "production", "connection.connected", {"n": n}
            )


async def deliveries(api: Api, endpoint_id: str) -> list[dict[str, Any]]:
    r = await api.call("GET", f"/webhooks/endpoints/{endpoint_id}/deliveries")
    assert r.status_code == 200, r.text
    return r.json()["results"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("kind", "category", "status"),
    [("silent", "timeout", None), ("drip_head", "timeout", None), ("error", "status", 503)],
)
async def test_a_bad_receiver_gets_one_deadline_and_a_category(
    api: Api,
    tenant: TenantKeys,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    kind: str,
    category: str,
    status: int | None,
) -> None:
    """A server that never answers, or sends its answer a byte every half second, is cut at the
    total deadline (not a per-read one, which the drip would renew forever)."""
    with hostile(kind, delay=0.3) as server:
        endpoint, _ = await subscribe(api, server.url)
        await emit(sessions, tenant)
        counts, took = await deliver(sessions, limits(settings, webhook_timeout_seconds=1.5))
        assert took < 1.5 + 1.0, "cut at the deadline"
        assert server.connections == 1
    [delivery] = await deliveries(api, endpoint)
    [attempt] = delivery["attempts"]
    assert delivery["status"] == "pending" and counts["retrying"] >= 1
    assert attempt["error"] == category and attempt["statusCode"] == status
    assert (attempt["durationMs"] is None) == (status is None), "no timing without an answer"


async def test_refused_connections_show_only_refused(
    api: Api,
    tenant: TenantKeys,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    endpoint, _ = await subscribe(api, closed_port_url())
    await emit(sessions, tenant)
    await deliver(sessions, limits(settings))
    [attempt] = (await deliveries(api, endpoint))[0]["attempts"]
    assert attempt == {
        "attemptedOnUtc": attempt["attemptedOnUtc"],
        "statusCode": None,
        "error": "refused",
        "durationMs": None,
    }


@pytest.mark.parametrize("kind", ["drip_body", "flood"])
async def test_an_answer_body_is_read_to_a_small_cap_and_dropped(
    api: Api,
    tenant: TenantKeys,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    kind: str,
) -> None:
    """A 200 whose body drips, or never ends: the attempt succeeds on its status and the body
    stops at the cap (a few KiB) or the deadline, whichever comes first."""
    with hostile(kind, delay=0.3) as server:
        endpoint, _ = await subscribe(api, server.url)
        await emit(sessions, tenant)
        _, took = await deliver(sessions, limits(settings, webhook_timeout_seconds=1.5))
        assert took < 1.5 + 1.0
        await asyncio.sleep(0.3)  # the server notices the close
        assert server.bytes_sent < 32 * 1024 * 1024, "the flood was not read to its end"
    [delivery] = await deliveries(api, endpoint)
    assert delivery["status"] == "succeeded"
    assert delivery["attempts"][0]["statusCode"] == 200


async def test_each_send_checks_the_address_again(
    api: Api,
    tenant: TenantKeys,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Registered while loopback was open; once it is not, the send is blocked unconnected."""
    with receiver() as rec:
        endpoint, _ = await subscribe(api, rec.url)
        await emit(sessions, tenant)
        await deliver(sessions, limits(settings, webhook_allowed_networks=""))
        assert rec.received == []
    [attempt] = (await deliveries(api, endpoint))[0]["attempts"]
    assert attempt["error"] == "blocked" and attempt["statusCode"] is None


async def test_the_attempt_connects_to_the_address_it_checked(
    api: Api,
    tenant: TenantKeys,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    dns_zone: Zone,
) -> None:
    """A hostile DNS (the suite's real DNS server, its answer changed) gives a public address at
    registration, then loopback: the send is blocked. With loopback allowed, the attempt goes to
    the address it resolved once, keeping the name in the Host header: httpx never resolves it a
    second time."""
    name = f"hooks-{uuid.uuid4().hex[:8]}.example.com"
    dns_zone.names[name] = ["93.184.215.14"]

    def asked() -> list[str]:
        return [n for n in dns_zone.asked if n == name]

    with receiver() as rec:
        port = rec.url.split(":")[2].split("/")[0]
        endpoint, secret = await subscribe(api, f"http://{name}:{port}/hook")
        rec.secret = secret
        assert asked(), "checked at registration"
        dns_zone.names[name] = ["127.0.0.1"]  # rebound after the check at registration
        await emit(sessions, tenant)
        await deliver(sessions, limits(settings, webhook_allowed_networks=""))
        assert rec.received == []
        first = (await deliveries(api, endpoint))[0]
        assert first["attempts"][0]["error"] == "blocked"

        before = len(asked())
        clock.freeze(clock.now() + timedelta(seconds=10))  # its retry is due
        await deliver(sessions, limits(settings))
        assert len(asked()) - before <= 2, "resolved once for the attempt (A and AAAA)"
        assert [e["_host"] for e in rec.events()] == [f"{name}:{port}"]
        assert rec.verified == [True]


# ---- attempts counted when claimed ----------------------------------------------------------


async def test_an_attempt_counts_when_claimed_so_a_killed_job_cannot_retry_forever(
    api: Api,
    tenant: TenantKeys,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    with receiver() as rec:
        endpoint, _ = await subscribe(api, rec.url)
        await emit(sessions, tenant)
        [delivery] = await deliveries(api, endpoint)
        # A worker claims it and dies before sending: the lease runs out.
        async with transaction(sessions) as session:
            now = clock.now()
            claimed = await repository.claim(
                session, [uuid.UUID(delivery["id"])], now, now + timedelta(seconds=40)
            )
        assert [d.attempts for d, _, _ in claimed] == [1]
        clock.freeze(now + timedelta(seconds=41))
        counts, _ = await deliver(sessions, limits(settings, webhook_max_attempts=1))
        assert counts["failed"] >= 1
        assert rec.received == [], "its one attempt was spent by the job that died"
    [after] = await deliveries(api, endpoint)
    assert after["status"] == "failed" and after["completedOnUtc"] is not None


# ---- fairness ---------------------------------------------------------------------------------


async def test_caps_per_endpoint_and_per_tenant(
    api: Api,
    tenant: TenantKeys,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    with hostile("slow", delay=0.4) as one, hostile("slow", delay=0.4) as other:
        await subscribe(api, one.url)
        await emit(sessions, tenant, 6)
        await deliver(sessions, limits(settings, webhook_endpoint_concurrency=2))
        assert one.connections == 6 and one.most_open == 2, "two at a time to one endpoint"

        for n in range(3):
            await subscribe(api, f"{other.url}/{n}")
        await emit(sessions, tenant, 4)  # 4 events x 4 endpoints of this tenant
        await deliver(
            sessions,
            limits(settings, webhook_endpoint_concurrency=2, webhook_tenant_concurrency=3),
        )
        assert other.connections == 12 and one.connections == 10
        assert other.most_open + one.most_open <= 2 + 3
        assert other.most_open == 3, "three at a time for the tenant"


async def test_five_dead_endpoints_do_not_delay_another_tenants_event(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], client: httpx.AsyncClient
) -> None:
    """The must-show: a tenant with five never-answering endpoints, another tenant with one
    working endpoint; the real arq worker delivers the second tenant's event within 15 s (it
    would take 50 s if attempts waited in line behind the default 10 s deadline). The job runs
    about 20 s: the hostile tenant's five attempts go four at a time (its cap)."""
    assert settings.webhook_timeout_seconds == 10.0
    hostile_tenant, victim = await make_tenant(sessions), await make_tenant(sessions)
    hostile_api, victim_api = Api(client, hostile_tenant.headers), Api(client, victim.headers)
    with receiver() as rec:
        servers = [hostile("silent") for _ in range(5)]
        dead = [s.__enter__() for s in servers]
        try:
            for server in dead:
                await subscribe(hostile_api, server.url)
            _, rec.secret = await subscribe(victim_api, rec.url)
            clock.freeze(clock.now())  # retries never come due: the job makes one round
            await emit(sessions, hostile_tenant)
            await emit(sessions, victim)
            started = time.monotonic()
            job = asyncio.create_task(run_job(settings, sessions, "deliver_webhooks"))
            while not rec.received and not job.done():  # noqa: ASYNC110 (a thread fills it)
                await asyncio.sleep(0.05)
            delivered_after = time.monotonic() - started
            await job
            assert rec.received and rec.verified == [True]
            assert delivered_after < 15, delivered_after
            assert sum(s.most_open for s in dead) >= 4, "the dead endpoints were being tried"
        finally:
            for s in servers:
                s.__exit__(None, None, None)


# ---- circuit breaker --------------------------------------------------------------------------


async def portal_webhooks_page(app: Any, sessions: Any, tenant: TenantKeys) -> str:
    """The tenant's portal webhooks page, as its signed-in staff sees it (in English)."""
    email, password = await add_user(sessions, tenant.name)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as http:
        staff = Staff(http, email, password)
        assert (await staff.sign_in()).status_code == 303
        page = await staff.get("/portal/webhooks")
    assert page.status_code == 200
    return page.text


async def test_an_endpoint_failing_for_hours_is_paused_then_probed(
    api: Api,
    tenant: TenantKeys,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    app: Any,
) -> None:
    lim = limits(settings, webhook_pause_after_hours=6, webhook_pause_minutes=60)
    with receiver(fail_first=1000) as rec:
        endpoint, rec.secret = await subscribe(api, rec.url)
        start = clock.now()
        clock.freeze(start)
        await emit(sessions, tenant)
        await deliver(sessions, lim)
        shown = (await api.call("GET", f"/webhooks/endpoints/{endpoint}")).json()
        assert shown["status"] == "active" and shown["failingSinceUtc"] is not None

        clock.freeze(start + timedelta(hours=6, minutes=1))
        await deliver(sessions, lim)  # the retry fails too: six hours of failures
        shown = (await api.call("GET", f"/webhooks/endpoints/{endpoint}")).json()
        assert shown["status"] == "paused", shown
        assert shown["pausedUntilUtc"].startswith(
            (start + timedelta(hours=7, minutes=1)).strftime("%Y-%m-%dT%H:%M")
        )
        tried = len(rec.received)
        page = await portal_webhooks_page(app, sessions, tenant)
        assert "Paused until" in page and "Failing since" in page

        await emit(sessions, tenant)  # events still queue while paused
        clock.freeze(start + timedelta(hours=6, minutes=30))
        await deliver(sessions, lim)
        assert len(rec.received) == tried, "nothing is sent to a paused endpoint"

        rec.fail_first = 0  # the receiver is fixed
        clock.freeze(start + timedelta(hours=7, minutes=2))
        await deliver(sessions, lim)
        shown = (await api.call("GET", f"/webhooks/endpoints/{endpoint}")).json()
        assert shown["status"] == "active" and shown["failingSinceUtc"] is None
        assert shown["pausedUntilUtc"] is None
        assert {d["status"] for d in await deliveries(api, endpoint)} == {"succeeded"}
        page = await portal_webhooks_page(app, sessions, tenant)
        assert "Paused until" not in page and "Active" in page


async def test_a_secret_sealed_under_a_lost_key_sends_nothing_unsigned(
    api: Api,
    tenant: TenantKeys,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """BANKFEEDS_SECRET_KEYS lost the key an endpoint's secret was sealed under: the attempt is
    recorded as `unsigned` and nothing reaches the receiver; once the key is back, the retry
    delivers the event, signed."""
    key = Fernet.generate_key().decode()
    vault.configure(settings.model_copy(update={"secret_keys": SecretStr(key)}))
    endpoint = None
    try:
        with receiver() as rec:
            endpoint, rec.secret = await subscribe(api, rec.url)
            await emit(sessions, tenant)
            other = Fernet.generate_key().decode()
            vault.configure(settings.model_copy(update={"secret_keys": SecretStr(other)}))
            counts, _ = await deliver(sessions, limits(settings))
            assert rec.received == [], "nothing is sent unsigned"
            [delivery] = await deliveries(api, endpoint)
            [attempt] = delivery["attempts"]
            assert delivery["status"] == "pending" and counts["retrying"] >= 1
            assert attempt["error"] == "unsigned" and attempt["statusCode"] is None

            vault.configure(settings.model_copy(update={"secret_keys": SecretStr(key)}))
            clock.shift(timedelta(hours=1))  # past the retry's back-off
            await deliver(sessions, limits(settings))
            assert len(rec.received) == 1 and rec.verified == [True]
            assert (await deliveries(api, endpoint))[0]["status"] == "succeeded"
    finally:
        vault.configure(settings)
        if endpoint is not None:  # sealed under a key the rest of the suite does not hold
            deleted = await api.call("DELETE", f"/webhooks/endpoints/{endpoint}")
            assert deleted.status_code in (200, 204), deleted.text
