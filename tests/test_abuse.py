"""Abuse resistance (issue 16): limits that only hurt the attacker, trusted proxies, sharp edges.

Limits are tested on apps of their own (own Redis prefix, own client address, production-like
limits), so the suite's other tests never count against them.
"""

from __future__ import annotations

import asyncio
import importlib
import io
import secrets
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from ipaddress import ip_network
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from cryptography.fernet import Fernet
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from pydantic import SecretStr
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import clock, vault
from app.config import Settings
from app.credentials import service as credentials_service
from app.kit.ratelimit import caller
from app.link.tables import LinkSettings
from app.main import create_app
from app.portal import service as portal_service
from app.portal.status import to_csv
from app.webhooks.tables import WebhookEndpoint
from tests.feeds import NOW
from tests.helpers import Api, Idx, Linkable, assert_error, make_tenant, request_log, v1_account
from tests.images import image, png
from tests.portal import Staff, add_user

migration = importlib.import_module("app.migrations.versions.0010_sealed_webhook_secrets")


@asynccontextmanager
async def own_app(
    settings: Settings, peer: str = "203.0.113.50", **update: Any
) -> AsyncIterator[httpx.AsyncClient]:
    own = settings.model_copy(
        update={"redis_prefix": f"{settings.redis_prefix}ab{secrets.token_hex(3)}:", **update}
    )
    application = create_app(own)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, client=(peer, 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://abuse.test") as http:
            yield http


async def linked_on(http: httpx.AsyncClient, sessions: Any) -> tuple[Idx, Api]:
    """A tenant with a connection, an account and a set of credentials, seen through `http`."""
    tenant = await make_tenant(sessions)
    api = Api(http, tenant.headers)
    company = await api.company()
    connection = await api.connection(company["id"])
    base = f"/companies/{company['id']}/connections/{connection['id']}"
    r = await api.call("POST", f"{base}/connectionInfo/bankFeedAccounts", v1_account("chk-1"))
    assert r.status_code == 200, r.text
    r = await api.call("POST", f"{base}/connectionInfo/bankFeedAccounts/credentials")
    body = r.json()
    return Idx(http, body["username"], body["password"], tenant.partner_keys["production"]), api


# ---- IDX lock-outs ------------------------------------------------------------------------


async def test_strangers_failures_never_lock_out_quickbooks(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The issue's must-show: garbage keys and another tenant's key cannot lock QuickBooks out."""
    production = {"idx_ip_lock_after": 50, "idx_requests_per_minute": 600}
    async with own_app(settings, **production) as http:
        quickbooks, _ = await linked_on(http, sessions)
        other = await make_tenant(sessions)
        garbage = Idx(http, quickbooks.username, "wrong-password-000", "not-a-partner-key")
        for _ in range(50):
            assert_error(await garbage.get("/accounts"), 401)
        foreign = Idx(
            http, quickbooks.username, "wrong-password-000", other.partner_keys["production"]
        )
        refused = [(await foreign.get("/accounts")).status_code for _ in range(15)]
        assert refused[:5] == [401] * 5 and set(refused[5:]) <= {401, 429}
        assert 429 in refused, "the other tenant's key is throttled for that username"
        r = await quickbooks.get("/accounts")
        assert r.status_code == 200, r.text


async def test_parallel_guesses_are_not_all_checked(
    linkable: Linkable, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = 0
    real_verify = credentials_service.HASHER.verify

    def counting(*args: Any, **kw: Any) -> bool:
        nonlocal checks
        checks += 1
        return bool(real_verify(*args, **kw))

    monkeypatch.setattr(credentials_service.HASHER, "verify", counting)
    wrong = Idx(
        linkable.idx.http, linkable.idx.username, "wrong-password-000", linkable.idx.partner_key
    )
    answers = await asyncio.gather(*(wrong.get("/accounts") for _ in range(40)))
    statuses = sorted(r.status_code for r in answers)
    assert checks <= settings.idx_lock_after, f"{checks} of 40 parallel guesses were checked"
    assert statuses.count(401) == checks and statuses.count(429) == 40 - checks
    for r in answers:
        if r.status_code == 429:
            assert int(r.headers["retry-after"]) >= 1


async def test_many_addresses_failures_answer_429_but_right_credentials_pass(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with own_app(settings, idx_ip_lock_after=3) as http:
        quickbooks, _ = await linked_on(http, sessions)
        key = quickbooks.partner_key
        for i in range(3):
            assert (
                await Idx(http, f"AAAA-BBBB-000{i}", "x" * 16, key).get("/accounts")
            ).status_code == 401
        assert_error(await Idx(http, "AAAA-BBBB-0009", "x" * 16, key).get("/accounts"), 429)
        assert (await quickbooks.get("/accounts")).status_code == 200


async def test_nul_in_the_basic_username_is_401_not_500(linkable: Linkable) -> None:
    idx = Idx(linkable.idx.http, "S0MW\x00TR0P", "password-password", linkable.idx.partner_key)
    assert_error(await idx.get("/accounts"), 401)
    idx = Idx(linkable.idx.http, linkable.idx.username, "pass\x00word-00000", idx.partner_key)
    assert_error(await idx.get("/accounts"), 401)


# ---- trusted proxies ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("198.51.100.1", ["203.0.113.9"], "", "198.51.100.1"),  # nobody trusted: header ignored
        ("10.0.0.5", ["203.0.113.9"], "", "10.0.0.5"),
        ("10.0.0.5", ["203.0.113.9"], "10.0.0.0/8", "203.0.113.9"),
        ("10.0.0.5", ["1.1.1.1, 203.0.113.9"], "10.0.0.0/8", "203.0.113.9"),  # left is the caller's
        ("10.0.0.5", ["203.0.113.9, 10.0.0.7"], "10.0.0.0/8", "203.0.113.9"),  # two proxies
        ("10.0.0.5", ["203.0.113.9", "10.0.0.7"], "10.0.0.0/8", "203.0.113.9"),  # two headers
        ("10.0.0.5", ["junk"], "10.0.0.0/8", "10.0.0.5"),
        ("10.0.0.5", ["10.0.0.8"], "10.0.0.0/8", "10.0.0.8"),  # all trusted: the left-most
        ("198.51.100.1", ["203.0.113.9"], "10.0.0.0/8", "198.51.100.1"),  # peer not a proxy
        ("2001:db8::5", ["2001:db8:1::9"], "2001:db8::/64", "2001:db8:1::9"),
    ],
)
def test_caller_address(peer: str, forwarded: list[str], trusted: str, expected: str) -> None:
    networks = tuple(ip_network(c) for c in trusted.split(",") if c)
    assert caller(peer, forwarded, networks) == expected


def test_trusted_proxies_must_be_cidrs() -> None:
    with pytest.raises(ValueError, match="not a CIDR"):
        Settings(trusted_proxies="10.0.0.0/8, balancer")
    assert len(Settings(trusted_proxies="10.0.0.0/8, 2001:db8::/32").trusted_proxy_networks) == 2


async def test_forwarded_for_is_ignored_without_trusted_proxies(settings: Settings) -> None:
    clock.freeze(NOW)  # one minute's window, however slow the machine
    async with own_app(settings, peer="10.0.0.5", link_requests_per_minute=2) as http:
        codes = [
            (await http.get("/link/connect", headers={"X-Forwarded-For": f"203.0.113.{i}"}))
            for i in range(3)
        ]
        assert [r.status_code for r in codes] == [401, 401, 429], "one caller: the peer"
        assert request_log("/link/connect")["address"] == "10.0.0.5"


async def test_forwarded_for_from_a_trusted_proxy_names_the_caller(settings: Settings) -> None:
    clock.freeze(NOW)  # one minute's window, however slow the machine
    limits = {"link_requests_per_minute": 2, "trusted_proxies": "10.0.0.0/8"}
    async with own_app(settings, peer="10.0.0.5", **limits) as http:
        for i in range(3):
            spoofed = f"198.51.100.{i}, 203.0.113.{i}"  # the left part is whatever the caller said
            r = await http.get("/link/connect", headers={"X-Forwarded-For": spoofed})
            assert r.status_code == 401, "each caller has a window of its own"
        assert request_log("/link/connect")["address"] == "203.0.113.2"
        same = [
            (
                await http.get(
                    "/link/connect", headers={"X-Forwarded-For": f"{i}.1.1.1, 203.0.113.7"}
                )
            ).status_code
            for i in range(3)
        ]
        assert same == [401, 401, 429], "a spoofed left-most entry does not make a new caller"


# ---- sharp edges --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Rent;=1+1", "Rent;'=1+1"),  # French locales split on ;
        ("Rent,=1+1", "Rent,'=1+1"),
        ("a\t+cmd", "a\t'+cmd"),
        ("a; @SUM(A1)", "a; '@SUM(A1)"),
        ("=HYPERLINK()", "'=HYPERLINK()"),
        ("Rent\n=1+1", "Rent\n'=1+1"),  # read with ; tab or |, the line break starts a row
        ("Rent\r\n-2", "Rent\r\n'-2"),
        ("Rent\r@x", "Rent\r'@x"),
        ("a\n\t=x", "a\n\t'=x"),
        ("Toft - Stores", "Toft - Stores"),
        ("Refund 5-6", "Refund 5-6"),
    ],
)
def test_csv_defuses_formulas_after_separators_and_quotes_every_field(
    text: str, expected: str
) -> None:
    out = to_csv(("name", "n"), [(text, 3)])
    assert out == f'"name","n"\r\n"{expected}","3"\r\n'


@pytest.mark.parametrize(
    "spell",
    [
        lambda u: f"urn:uuid:{u}",
        lambda u: "{" + u + "}",
        lambda u: u.replace("-", ""),
        lambda u: u.translate({ord(d): 0xFF10 + int(d) for d in "0123456789"}),  # full-width
        lambda u: f" {u}",
    ],
)
async def test_ids_in_other_spellings_are_not_found(api: Api, spell: Any) -> None:
    company = await api.company()
    assert (await api.call("GET", f"/companies/{company['id']}")).status_code == 200
    assert (await api.call("GET", f"/companies/{company['id'].upper()}")).status_code == 200
    other = spell(company["id"])
    assert_error(await api.call("GET", f"/companies/{quote(other, safe='')}"), 404)
    query = await api.call("GET", "/companies", params={"query": f"id={{{other}}}"})
    assert_error(query, 400)


async def test_a_query_of_a_thousand_clauses_is_a_clear_400(api: Api) -> None:
    await api.company()
    for joiner in ("&&", "||"):
        query = joiner.join(["name=Toft Stores"] * 1000)
        r = await api.call("GET", "/companies", params={"query": query})
        body = assert_error(r, 400)
        assert "at most 100" in body["error"]
    fine = "||".join(["name=Toft Stores"] * 100)
    assert (await api.call("GET", "/companies", params={"query": fine})).status_code == 200


async def test_answers_carrying_a_secret_are_not_stored_by_caches(linkable: Linkable) -> None:
    api = linkable.api
    answers = {
        "credentials": await api.call("POST", f"{linkable.accounts_path}/credentials"),
        "connection": await api.call("GET", linkable.connection_path),
        "new connection": await api.call(
            "POST", f"/companies/{linkable.company['id']}/connections", {"platformKey": "hcws"}
        ),
        "webhook secret": await api.call(
            "POST", "/webhooks/endpoints", {"url": "https://hooks.example.test/x"}
        ),
    }
    for what, r in answers.items():
        assert r.status_code in (200, 201), (what, r.text)
        assert r.headers.get("cache-control") == "no-store", what


async def test_logo_is_decoded_bounded_and_stored_re_encoded(
    api: Api, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    def put(content: bytes) -> Any:
        return api.http.put(
            "/settings/link/logo",
            content=content,
            headers={**api.headers, "Content-Type": "image/png"},
        )

    header_only = b"\x89PNG\r\n\x1a\n" + b"<script>alert(1)</script>" + b"\x00" * 64
    assert_error(await put(header_only), 415)
    truncated = png(64, 64)[:60]
    assert_error(await put(truncated), 415)
    side = settings.logo_max_pixels + 1
    body = assert_error(await put(image("PNG", side, 1)), 413)
    assert "pixels" in body["error"]
    carrying = PngInfo()
    carrying.add_text("Comment", "marker-b7c1 <script>")
    out = io.BytesIO()
    Image.new("RGB", (20, 10), (1, 2, 3)).save(out, "PNG", pnginfo=carrying)
    r = await put(out.getvalue())
    assert r.status_code == 200, r.text
    assert r.json()["logo"]["contentType"] == "image/png"
    async with sessions() as session:
        stored = (await session.execute(select(LinkSettings.logo))).scalars().all()
    assert not any(b"marker-b7c1" in (logo or b"") for logo in stored), "metadata stripped"
    assert any(logo and Image.open(io.BytesIO(logo)).size == (20, 10) for logo in stored), (
        "the decoded pixels are kept"
    )


# ---- portal sign-in floods ----------------------------------------------------------------


@asynccontextmanager
async def portal_app(
    settings: Settings, *peers: str, **update: Any
) -> AsyncIterator[tuple[Any, list[httpx.AsyncClient]]]:
    own = settings.model_copy(
        update={"redis_prefix": f"{settings.redis_prefix}pa{secrets.token_hex(3)}:", **update}
    )
    application = create_app(own)
    async with application.router.lifespan_context(application):
        clients = [
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=application, client=(peer, 4000)),
                base_url="http://portal.test",
            )
            for peer in peers
        ]
        try:
            yield application, clients
        finally:
            for c in clients:
                await c.aclose()


async def test_a_stranger_cannot_lock_staff_out(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    clock.freeze(NOW)
    tenant = await make_tenant(sessions)
    email, password = await add_user(sessions, tenant.name)
    async with portal_app(settings, "198.51.100.66", "203.0.113.10") as (_, (evil, office)):
        stranger = Staff(evil, email, "not-the-password")
        for _ in range(settings.portal_max_failures + 3):
            assert (await stranger.sign_in()).status_code == 401
        assert (await stranger.sign_in(password=password)).status_code == 401, (
            "the stranger's address is locked for that e-mail, even with the right password"
        )
        staff = Staff(office, email, "a-typo-in-the-password")
        assert (await staff.sign_in()).status_code == 401, "an address that has not failed: tried"
        slowed = await staff.sign_in(password=password)
        assert slowed.status_code == 429, "once it has failed, the e-mail's slow-down applies"
        assert 1 <= int(slowed.headers["retry-after"]) <= 60
        assert "Please wait a minute" in slowed.text
        clock.shift(timedelta(seconds=2))
        assert (await staff.sign_in(password=password)).status_code == 303, "seconds, not 15 min"
        clock.shift(timedelta(minutes=1))
        assert (await stranger.sign_in(password=password)).status_code == 401, "still locked"


async def test_sign_ins_are_limited_per_address_only(settings: Settings) -> None:
    """No cap in all: a botnet could spend it for every tenant's staff (issue 28)."""
    clock.freeze(NOW)  # one minute's window, however slow the machine
    peers = ["198.51.100.1", "198.51.100.2", "198.51.100.3"]
    async with portal_app(settings, *peers, portal_sign_ins_per_minute=2) as (_, clients):
        one, two, three = clients
        tries = [(await Staff(one, "a@example.test", "x" * 12).sign_in()) for _ in range(3)]
        assert [r.status_code for r in tries] == [401, 401, 429]
        assert int(tries[-1].headers["retry-after"]) >= 1
        assert (await Staff(two, "a@example.test", "x" * 12).sign_in()).status_code == 401
        assert (await Staff(two, "b@example.test", "x" * 12).sign_in()).status_code == 401
        assert (await Staff(three, "c@example.test", "x" * 12).sign_in()).status_code == 401


async def test_nul_in_the_portal_email_is_401_not_500(settings: Settings) -> None:
    async with portal_app(settings, "198.51.100.8") as (_, (browser_client,)):
        for email, password in (("a\x00@example.test", "x" * 12), ("a@example.test", "x\x00" * 8)):
            r = await Staff(browser_client, email, password).sign_in()
            assert r.status_code == 401


async def test_argon2_runs_bounded_and_outside_any_transaction(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant = await make_tenant(sessions)
    email, _ = await add_user(sessions, tenant.name)
    other, _ = await add_user(sessions, tenant.name)
    running, most, held = 0, 0, []
    real_verify = portal_service.HASHER.verify
    lock = threading.Lock()

    async with portal_app(settings, "198.51.100.7", hash_concurrency=1) as (app, (c,)):
        pool = app.state.services.engine.pool

        def watched(*args: Any, **kw: Any) -> bool:
            nonlocal running, most
            with lock:
                running += 1
                most = max(most, running)
            held.append(pool.checkedout())
            try:
                return bool(real_verify(*args, **kw))
            finally:
                with lock:
                    running -= 1

        monkeypatch.setattr(portal_service.HASHER, "verify", watched)
        answers = await asyncio.gather(
            *(Staff(c, email, f"wrong-password-{i}").sign_in() for i in range(6))
        )
        assert {r.status_code for r in answers} == {401}
        assert len(held) == 6 and most == 1, f"{most} argon2 checks at once"
        held.clear()
        for i in range(2):  # one at a time: whatever is checked out is the sign-in's own
            await Staff(c, other, f"wrong-password-{i}").sign_in()
    assert held == [0, 0], "no database connection is held while argon2 runs"


# ---- quotas per environment ---------------------------------------------------------------


async def test_sandbox_and_production_have_daily_quotas_of_their_own(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await make_tenant(sessions)
    quotas = {"rate_limit_daily_quota": 3, "rate_limit_daily_quota_sandbox": 2}
    async with own_app(settings, **quotas) as http:
        sandbox = [await http.get("/companies", headers=tenant.sandbox_headers) for _ in range(3)]
        assert [r.status_code for r in sandbox] == [200, 200, 429]
        assert sandbox[0].headers["x-rate-limit-limit"] == "2"
        assert "sandbox" in sandbox[-1].json()["error"]
        live = [await http.get("/companies", headers=tenant.headers) for _ in range(4)]
        assert [r.status_code for r in live] == [200, 200, 200, 429], "sandbox spent none of it"
        assert live[0].headers["x-rate-limit-remaining"] == "2"


# ---- secrets at rest ----------------------------------------------------------------------


@pytest.fixture
def sealing(settings: Settings) -> Iterator[list[str]]:
    """Webhook secrets sealed under two keys (newest first) for one test, then as before."""
    keys = [Fernet.generate_key().decode() for _ in range(2)]
    vault.configure(settings.model_copy(update={"secret_keys": SecretStr(",".join(keys))}))
    try:
        yield keys
    finally:
        vault.configure(settings)


async def stored_secret(sessions: Any, endpoint_id: str) -> str:
    async with sessions() as session:
        raw = await session.execute(
            text("SELECT secret FROM webhook_endpoints WHERE id = :id"),
            {
                "id": uuid.UUID(endpoint_id).hex
                if "sqlite" in str(session.bind.url)
                else endpoint_id
            },
        )
        return str(raw.scalar_one())


async def test_webhook_secrets_are_sealed_and_keys_rotate(
    api: Api, settings: Settings, sessions: async_sessionmaker[AsyncSession], sealing: list[str]
) -> None:
    r = await api.call("POST", "/webhooks/endpoints", {"url": "https://hooks.example.test/a"})
    assert r.status_code == 201, r.text
    secret, endpoint_id = r.json()["secret"], r.json()["id"]
    raw = await stored_secret(sessions, endpoint_id)
    assert raw.startswith("fernet:") and secret not in raw, "not stored in the clear"
    async with sessions() as session:
        row = await session.get(WebhookEndpoint, uuid.UUID(endpoint_id))
        assert row is not None and vault.unseal(row.secret) == secret, "signing reads it whole"

    newest = Fernet.generate_key().decode()
    rotated = SecretStr(",".join([newest, *sealing]))
    vault.configure(settings.model_copy(update={"secret_keys": rotated}))
    async with sessions() as session:
        row = await session.get(WebhookEndpoint, uuid.UUID(endpoint_id))
        assert row is not None and vault.unseal(row.secret) == secret, "old keys still decrypt"
    assert Fernet(newest.encode()).decrypt(vault.seal("x")[len("fernet:") :].encode()) == b"x"

    vault.configure(settings.model_copy(update={"secret_keys": SecretStr(newest)}))
    with pytest.raises(vault.SecretUnreadable):
        vault.unseal(raw)
    vault.configure(settings)  # no key at all: an error, never a wrong secret
    with pytest.raises(vault.SecretUnreadable):
        vault.unseal(raw)
    deleted = await api.call("DELETE", f"/webhooks/endpoints/{endpoint_id}")
    assert deleted.status_code in (200, 204), deleted.text


async def test_migration_seals_secrets_stored_in_the_clear(
    api: Api, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    r = await api.call("POST", "/webhooks/endpoints", {"url": "https://hooks.example.test/b"})
    secret, endpoint_id = r.json()["secret"], r.json()["id"]
    assert await stored_secret(sessions, endpoint_id) == secret, "no key: stored as it is"
    key = SecretStr(Fernet.generate_key().decode())
    keyed = settings.model_copy(update={"secret_keys": key})
    engine = sessions.kw["bind"]
    async with engine.begin() as conn:
        sealed = await conn.run_sync(lambda c: migration.seal_existing(c, keyed))
        again = await conn.run_sync(lambda c: migration.seal_existing(c, keyed))
    try:
        assert sealed >= 1 and again == 0, "sealed once"
        raw = await stored_secret(sessions, endpoint_id)
        assert raw.startswith("fernet:") and vault.unseal(raw, vault.keyring(keyed)) == secret
    finally:
        # The migration sealed every tenant's secrets in this shared test database under a key
        # that dies with this test: put them back in the clear, as the other tests expect.
        await unseal_all(engine, keyed)


async def unseal_all(engine: Any, keyed: Settings) -> None:
    keyring = vault.keyring(keyed)
    async with engine.begin() as conn:
        rows = (
            await conn.execute(
                text("SELECT id, secret FROM webhook_endpoints WHERE secret LIKE 'fernet:%'")
            )
        ).all()
        for row_id, raw in rows:
            await conn.execute(
                text("UPDATE webhook_endpoints SET secret = :clear WHERE id = :id"),
                {"clear": vault.unseal(raw, keyring), "id": row_id},
            )


def test_secret_keys_must_be_fernet_keys() -> None:
    with pytest.raises(ValueError, match="not a Fernet key"):
        Settings(secret_keys="not-a-key")
