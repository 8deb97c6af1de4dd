"""One-time credentials and the IDX API QuickBooks calls: shapes, statuses, auth, throttling."""

from __future__ import annotations

import asyncio
import base64
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import clock
from app.accounts.tables import SourceAccount
from app.config import Settings
from app.credentials import service as credentials_service
from app.credentials.tables import Credential
from app.db import transaction
from app.main import create_app
from app.transactions.tables import BankTransaction, SentBatch
from tests.contracts import assert_idx_valid
from tests.contracts.sdk import read
from tests.helpers.builders import TenantKeys, make_tenant, v1_account
from tests.helpers.clients import Api, Idx, Linkable, assert_error


async def account_row(
    sessions: async_sessionmaker[AsyncSession], link: Linkable, account_id: str
) -> SourceAccount:
    async with sessions() as session:
        stmt = select(SourceAccount).where(
            SourceAccount.connection_id == uuid.UUID(link.connection["id"]),
            SourceAccount.account_id == account_id,
        )
        return (await session.execute(stmt)).scalar_one()


async def source_accounts(link: Linkable) -> dict[str, dict[str, Any]]:
    listed = (await link.api.call("GET", link.accounts_path)).json()
    return {a["id"]: a for a in listed}


async def test_credentials_are_shown_once_and_stored_as_argon2(
    linkable: Linkable, sessions: async_sessionmaker[AsyncSession]
) -> None:
    r = await linkable.api.call("POST", f"{linkable.accounts_path}/credentials")
    body = r.json()
    read("BankAccountCredentials", body)
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}", body["username"])
    assert len(body["password"]) >= 16
    async with sessions() as session:
        row = (
            await session.execute(select(Credential).where(Credential.username == body["username"]))
        ).scalar_one()
    assert row.password_hash.startswith("$argon2id$")
    assert body["password"] not in row.password_hash
    assert credentials_service.HASHER.verify(body["password"], row.password_hash)


async def test_link_flow_statuses_and_shapes(
    linkable: Linkable, sessions: async_sessionmaker[AsyncSession]
) -> None:
    api, idx = linkable.api, linkable.idx
    assert (await api.call("GET", linkable.connection_path)).json()["status"] == "PendingAuth"

    r = await idx.get("/accounts")
    assert r.status_code == 200, r.text
    listing = r.json()
    assert_idx_valid("IntuitAccounts", listing)
    assert listing["totalResults"] == 2
    by_name = {a["accountDisplayInfo"]["description"]: a for a in listing["results"]}
    checking, savings = by_name["Business Checking"], by_name["Savings"]
    assert checking["accountType"] == "deposit"
    assert checking["depositAccountInfo"]["accountSubType"] == "checking"
    assert checking["depositAccountInfo"]["depositBalance"]["currentBalance"] == {
        "currency": "USD",
        "amount": "1234.56",
    }
    assert checking["accountDisplayInfo"]["displayName"] == "Business Checking ••••5670"
    assert savings["depositAccountInfo"]["accountSubType"] == "savings"
    assert savings["primaryCurrency"] == "CAD"
    assert savings["bankRoutingInfo"] == [{"id": "021001088", "type": "aba"}]

    assert (await api.call("GET", linkable.connection_path)).json()["status"] == "Linked"
    statuses = {k: a["status"] for k, a in (await source_accounts(linkable)).items()}
    assert statuses == {"chk-1": "connecting", "sav-2": "connecting"}
    assert (await account_row(sessions, linkable, "chk-1")).last_listed_at is not None

    # Toronto is 5 hours behind UTC in March: 02:00 UTC on the 10th is still the 9th there.
    clock.freeze(datetime(2026, 3, 10, 2, 0, tzinfo=UTC))
    r = await idx.get(
        f"/accounts/{checking['id']}/transactions", startDate="2026-02-27", endDate="2026-03-11"
    )
    assert r.status_code == 200, r.text
    assert_idx_valid("IntuitTransactions", r.json())
    accounts = await source_accounts(linkable)
    assert accounts["chk-1"]["status"] == "connected"
    assert accounts["chk-1"]["feedStartDate"] == "2026-03-02", (
        "clamped to 7 days back (v2 shape: the connection also holds a v2 account)"
    )
    assert accounts["sav-2"]["status"] == "connecting"
    row = await account_row(sessions, linkable, "chk-1")
    assert row.last_queried_at == datetime(2026, 3, 10, 2, 0, tzinfo=UTC)

    # A later query with another start date leaves the feed start alone.
    await idx.get(f"/accounts/{checking['id']}/transactions", startDate="2026-03-09")
    assert (await source_accounts(linkable))["chk-1"]["feedStartDate"] == "2026-03-02"

    # A recent start date is kept as chosen (v2 accounts show it as a date).
    await idx.get(f"/accounts/{savings['id']}/transactions", startDate="2026-03-08")
    assert (await source_accounts(linkable))["sav-2"]["feedStartDate"] == "2026-03-08"


async def test_transactions_window_paging_and_shape(
    linkable: Linkable, sessions: async_sessionmaker[AsyncSession]
) -> None:
    listing = (await linkable.idx.get("/accounts")).json()
    checking = next(
        a
        for a in listing["results"]
        if a["accountType"] == "deposit" and a["primaryCurrency"] == "USD"
    )
    pk = (await account_row(sessions, linkable, "chk-1")).pk
    # Dates are read Anywhere on Earth: the date 2026-03-02 is [03-02 12:00Z, 03-03 12:00Z).
    sent = [
        ("t1", Decimal("-100.00"), datetime(2026, 3, 2, 11, 59, 59, tzinfo=UTC)),
        ("t2", Decimal("2500.50"), datetime(2026, 3, 2, 12, 0, tzinfo=UTC)),
        ("t3", Decimal("-0.01"), datetime(2026, 3, 4, 5, 0, tzinfo=UTC)),
    ]
    async with transaction(sessions) as session:
        for tid, amount, at in sent:
            session.add(
                BankTransaction(
                    account_pk=pk,
                    transaction_id=tid,
                    cleared_on=at.date(),
                    description=f"Tx {tid}",
                    amount=amount,
                    accepted_at=at,
                    sent_at=at,
                    send_seq=1,
                )
            )
            # Sent rows written directly are counted and numbered as the send would do it.
            session.add(SentBatch(account_pk=pk, sent_at=at, row_count=1))

    path = f"/accounts/{checking['id']}/transactions"
    body = (await linkable.idx.get(path, startDate="2026-03-02", endDate="2026-03-04")).json()
    assert_idx_valid("IntuitTransactions", body)
    assert body["totalResults"] == 2
    credit, debit = body["results"]
    assert credit["amount"] == {"currency": "USD", "amount": "2500.50"}
    assert credit["transactionValueType"] == "CREDIT"
    assert credit["depositTransactionInfo"] == {"depositTransactionType": "credit"}
    assert credit["status"] == "POSTED"
    assert credit["modifiedDate"] == "2026-03-02T12:00:00Z"
    assert credit["transactionDescription"] == "Tx t2"
    assert credit["accountId"] == checking["id"]
    assert debit["amount"]["amount"] == "-0.01"
    assert debit["transactionValueType"] == "DEBIT"

    end_exclusive = (
        await linkable.idx.get(path, startDate="2026-03-01", endDate="2026-03-02")
    ).json()
    assert [t["transactionDescription"] for t in end_exclusive["results"]] == ["Tx t1"]

    page2 = (await linkable.idx.get(path, startDate="2026-03-01", pageSize=2, page=2)).json()
    assert page2["totalResults"] == 3
    assert page2["pageNumber"] == 2
    assert [t["transactionDescription"] for t in page2["results"]] == ["Tx t3"]
    again = (await linkable.idx.get(path, startDate="2026-03-01")).json()
    assert len({t["transactionId"] for t in again["results"]}) == 3
    assert again["results"][0]["transactionId"] == end_exclusive["results"][0]["transactionId"]


async def test_revoke_stops_the_next_pull(linkable: Linkable) -> None:
    assert (await linkable.idx.get("/accounts")).status_code == 200
    r = await linkable.api.call("DELETE", f"{linkable.accounts_path}/credentials")
    assert r.status_code == 204
    body = assert_error(await linkable.idx.get("/accounts"), 401)
    assert_idx_valid("ErrorMessage", body)
    assert "revoked" in body["error"]


async def test_new_sets_leave_old_ones_valid(linkable: Linkable) -> None:
    second = await linkable.new_credentials()
    assert (await linkable.idx.get("/accounts")).status_code == 200
    assert (await second.get("/accounts")).status_code == 200


async def test_unused_set_expires_but_a_claimed_one_does_not(linkable: Linkable) -> None:
    unused = await linkable.new_credentials()
    assert (await linkable.idx.get("/accounts")).status_code == 200
    clock.shift(timedelta(hours=24, seconds=1))
    assert_error(await unused.get("/accounts"), 401)
    assert (await linkable.idx.get("/accounts")).status_code == 200


async def test_set_just_inside_its_lifetime_still_works(linkable: Linkable) -> None:
    clock.shift(timedelta(hours=23, minutes=59))
    assert (await linkable.idx.get("/accounts")).status_code == 200


@pytest.mark.parametrize(
    ("headers", "fragment"),
    [
        ({"X-Partner-Key": "not base64!"}, "X-Partner-Key"),
        ({"X-Partner-Key": base64.b64encode(b"bfp_live_wrong").decode()}, "X-Partner-Key"),
        ({"X-Partner-Key": ""}, "X-Partner-Key"),
        ({"Authorization": "Bearer token"}, "Basic base64(username:password)"),
        ({"Authorization": "Basic %%%"}, "Basic base64(username:password)"),
        (
            {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
            "Basic base64(username:password)",
        ),
    ],
)
async def test_bad_headers_are_401(
    linkable: Linkable, headers: dict[str, str], fragment: str
) -> None:
    merged = {**linkable.idx.headers, **headers}
    r = await linkable.idx.http.get("/partners/intuit/idx/accounts", headers=merged)
    assert fragment in assert_error(r, 401)["error"]


async def test_credentials_work_only_with_their_tenant_and_environment(
    linkable: Linkable, tenant: TenantKeys, other_tenant: TenantKeys
) -> None:
    idx = linkable.idx
    for key in (other_tenant.partner_keys["production"], tenant.partner_keys["sandbox"]):
        r = await Idx(idx.http, idx.username, idx.password, key).get("/accounts")
        assert_error(r, 401)
    wrong = await Idx(idx.http, idx.username, "wrong-password-123", idx.partner_key).get(
        "/accounts"
    )
    assert_error(wrong, 401)
    assert (await idx.get("/accounts")).status_code == 200


async def test_bad_requests_are_clear_4xx(linkable: Linkable) -> None:
    listing = (await linkable.idx.get("/accounts")).json()
    account = listing["results"][0]["id"]
    path = f"/accounts/{account}/transactions"
    assert_error(await linkable.idx.get("/accounts/nope/transactions"), 404)
    assert_error(
        await linkable.idx.get("/accounts/00000000-0000-0000-0000-000000000000/transactions"), 404
    )
    body = assert_error(
        await linkable.idx.get(path, startDate="2026-03-05", endDate="2026-03-01"), 400
    )
    assert "startDate must not be after endDate" in body["error"]
    for bad in (
        {"startDate": "03/01/2026"},
        {"endDate": "2026-13-01"},
        {"pageSize": 5001},
        {"page": 0},
    ):
        body = assert_error(await linkable.idx.get(path, **bad), 400)
        assert body["validation"]["errors"], bad


async def test_another_connections_account_is_404(
    api: Api, linkable: Linkable, tenant: TenantKeys
) -> None:
    other_company = await api.company("Other SMB")
    other = await api.connection(other_company["id"])
    link = f"/companies/{other_company['id']}/connections/{other['id']}"
    base = f"{link}/connectionInfo/bankFeedAccounts"
    await api.call("POST", base, v1_account("theirs"))
    r = await api.call("POST", f"{base}/credentials")
    their_idx = Idx(
        api.http, r.json()["username"], r.json()["password"], tenant.partner_keys["production"]
    )
    their_account = (await their_idx.get("/accounts")).json()["results"][0]["id"]
    assert_error(await linkable.idx.get(f"/accounts/{their_account}/transactions"), 404)
    mine = (await linkable.idx.get("/accounts")).json()
    assert their_account not in {a["id"] for a in mine["results"]}


async def test_failed_sign_ins_throttle_then_lock_alike_for_unknown_users(
    linkable: Linkable, settings: Settings
) -> None:
    real = Idx(
        linkable.idx.http, linkable.idx.username, "wrong-password-000", linkable.idx.partner_key
    )
    ghost = Idx(linkable.idx.http, "ZZZZ-ZZZZ-ZZZZ", "wrong-password-000", linkable.idx.partner_key)

    async def statuses(idx: Idx) -> list[int]:
        out = []
        for _ in range(settings.idx_throttle_after + 1):
            out.append((await idx.get("/accounts")).status_code)
        return out

    real_statuses = await statuses(real)
    r = await linkable.idx.get("/accounts")  # the right password, while the wait runs
    ghost_statuses = await statuses(ghost)
    assert real_statuses == ghost_statuses, "no answer tells whether a username exists"
    assert real_statuses == [401] * settings.idx_throttle_after + [429]
    body = assert_error(r, 429)
    assert int(r.headers["retry-after"]) >= 1
    assert body["canBeRetried"] == "True"


async def test_lock_holds_even_for_the_right_password(
    linkable: Linkable, settings: Settings, services: Any
) -> None:
    wrong = Idx(
        linkable.idx.http, linkable.idx.username, "wrong-password-000", linkable.idx.partner_key
    )
    prefix = settings.redis_prefix
    for _ in range(settings.idx_lock_after):
        await services.redis.delete(*(await services.redis.keys(f"{prefix}idx:wait:u:*")) or ["x"])
        await wrong.get("/accounts")
    r = await linkable.idx.get("/accounts")
    assert_error(r, 429)
    assert int(r.headers["retry-after"]) > settings.idx_lock_seconds - 10


async def test_address_lock_on_an_app_of_its_own(settings: Settings, sessions: Any) -> None:
    strict = settings.model_copy(update={"idx_ip_lock_after": 3})
    application = create_app(strict)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, client=("203.0.113.7", 4242))
        async with httpx.AsyncClient(transport=transport, base_url="http://idx.test") as http:
            tenant = await make_tenant(sessions)
            for i in range(3):
                idx = Idx(
                    http,
                    f"AAAA-BBBB-000{i}",
                    "password-password",
                    tenant.partner_keys["production"],
                )
                assert (await idx.get("/accounts")).status_code == 401
            r = await Idx(http, "AAAA-BBBB-9999", "x" * 16, tenant.partner_keys["production"]).get(
                "/accounts"
            )
            assert_error(r, 429)


async def test_verification_cost_is_paid_once_per_window(
    linkable: Linkable, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    calls = 0
    real_verify = credentials_service.HASHER.verify

    def counting_verify(secret: str, hashed: str) -> bool:
        nonlocal calls
        calls += 1
        return bool(real_verify(secret, hashed))

    monkeypatch.setattr(credentials_service.HASHER, "verify", counting_verify)
    clock.freeze(datetime(2026, 4, 1, 12, 0, tzinfo=UTC))
    for _ in range(3):
        assert (await linkable.idx.get("/accounts")).status_code == 200
    assert calls == 1
    wrong = Idx(
        linkable.idx.http, linkable.idx.username, "not-the-password", linkable.idx.partner_key
    )
    assert (await wrong.get("/accounts")).status_code == 401
    assert calls == 2, "a wrong password never rides the cache"
    clock.shift(timedelta(seconds=settings.idx_verify_cache_seconds + 1))
    assert (await linkable.idx.get("/accounts")).status_code == 200
    assert calls == 3


async def test_simultaneous_first_sign_ins_claim_once(
    linkable: Linkable, sessions: async_sessionmaker[AsyncSession]
) -> None:
    results = await asyncio.gather(*(linkable.idx.get("/accounts") for _ in range(4)))
    assert [r.status_code for r in results] == [200] * 4
    async with sessions() as session:
        row = (
            await session.execute(
                select(Credential).where(Credential.username == linkable.idx.username)
            )
        ).scalar_one()
    assert row.claimed_at is not None
    assert row.claimed_partner_key_id is not None
    assert (await linkable.api.call("GET", linkable.connection_path)).json()["status"] == "Linked"


async def test_no_pull_authenticates_after_a_revoke_returns(linkable: Linkable) -> None:
    assert (await linkable.idx.get("/accounts")).status_code == 200

    async def revoke() -> httpx.Response:
        return await linkable.api.call("DELETE", f"{linkable.accounts_path}/credentials")

    results = await asyncio.gather(*(linkable.idx.get("/accounts") for _ in range(6)), revoke())
    assert results[-1].status_code == 204
    assert {r.status_code for r in results[:-1]} <= {200, 401}
    for _ in range(3):
        # 401, or 429 once the failed sign-ins pile up: never authenticated again.
        assert (await linkable.idx.get("/accounts")).status_code in (401, 429)


async def test_disconnected_account_queried_again_reconnects_and_relinks(
    linkable: Linkable, sessions: async_sessionmaker[AsyncSession]
) -> None:
    account = (await linkable.idx.get("/accounts")).json()["results"][0]["id"]
    await linkable.idx.get(f"/accounts/{account}/transactions")
    r = await linkable.api.call(
        "PATCH", f"{linkable.accounts_path}/chk-1", {"status": "disconnected"}
    )
    assert r.json()["status"] == "disconnected"
    await linkable.api.call("PATCH", linkable.connection_path, {"status": "Unlinked"})
    assert (await linkable.idx.get(f"/accounts/{account}/transactions")).status_code == 401
    again = await linkable.new_credentials()  # the client's Unlinked revoked every set
    await again.get(f"/accounts/{account}/transactions")
    assert (await source_accounts(linkable))["chk-1"]["status"] == "connected"
    assert (await linkable.api.call("GET", linkable.connection_path)).json()["status"] == "Linked"


async def test_company_zone_decides_the_feed_start_clamp(linkable: Linkable) -> None:
    await linkable.api.call(
        "PATCH", f"/companies/{linkable.company['id']}", {"timeZone": "Pacific/Auckland"}
    )
    at = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)  # already the 11th in Auckland
    assert at.astimezone(ZoneInfo("Pacific/Auckland")).date() == date(2026, 3, 11)
    clock.freeze(at)
    account = (await linkable.idx.get("/accounts")).json()["results"][0]["id"]
    await linkable.idx.get(f"/accounts/{account}/transactions", startDate="2026-01-01")
    assert (await source_accounts(linkable))["chk-1"]["feedStartDate"] == "2026-03-04"
