"""Deleting a company (or an account) destroys it: a dump of every table afterwards holds no trace
of a marker that was in its name, description, account names and line descriptions."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import clock
from app.retention.tables import DestructionEntry
from tests.helpers.builders import TenantKeys, v1_account
from tests.helpers.clients import Api, Idx, Linkable
from tests.helpers.dump import dump, tables_with
from tests.helpers.feeds import NOW, Feed, connect, day, tx
from tests.helpers.logs import remember_credentials, remember_personal
from tests.helpers.pendings import hold, post_holds
from tests.helpers.receiver import receiver, subscribe


async def _keyed(api: Api, method: str, path: str, body: object, key: str) -> httpx.Response:
    headers = {**api.headers, "Idempotency-Key": key}
    return await api.http.request(method, path, json=body, headers=headers)


async def _marked_company(api: Api, tenant: TenantKeys, marker: str) -> Feed:
    """A company whose every free-text field carries `marker`, with a pushed, pulled, re-served
    feed, kept idempotent answers, webhook events, a rejected push and Link OTPs."""
    remember_personal(marker)
    body = {"name": f"Shop {marker}", "description": f"About {marker}"}
    company = (await _keyed(api, "POST", "/companies", body, f"c-{marker}")).json()
    connection = await api.connection(company["id"])
    base = f"/companies/{company['id']}/connections/{connection['id']}"
    accounts = f"{base}/connectionInfo/bankFeedAccounts"
    account = v1_account("chk-1", accountName=f"Checking {marker}")
    r = await _keyed(api, "POST", f"{accounts}/batch", [account], f"a-{marker}")
    assert r.status_code == 201, r.text
    r = await api.call("POST", f"{accounts}/credentials")
    remember_credentials(r.json()["username"], r.json()["password"])
    idx = Idx(
        api.http, r.json()["username"], r.json()["password"], tenant.partner_keys["production"]
    )
    feed = await connect(Linkable(api, company, connection, idx), name_of=f"Checking {marker}")
    pushed = await feed.push(
        [
            tx(
                "m1",
                day(0),
                description=f"Coffee {marker}",
                counterparty=f"Payee {marker}",
                reference=f"R{marker}",
            ),
            tx("m2", day(0)),
        ],
        headers={"Idempotency-Key": f"p-{marker}"},
    )
    assert pushed.status_code == 200, pushed.text
    held = await post_holds(feed, [hold("h1", day(0), description=f"Hold {marker}")])
    assert held.status_code == 201, held.text
    refused = await feed.push([tx("m1", day(0), description=f"Again {marker}")])
    assert refused.status_code == 400, refused.text
    clock.freeze(NOW + timedelta(minutes=10))
    assert (await feed.pull(day(0), day(1))).status_code == 200
    body = {"fromDate": day(0), "toDate": day(0), "requestedBy": f"Ana {marker}"}
    assert (await api.call("POST", f"{feed.account_path}/reserve", body)).status_code == 200
    # An account-level event (disconnected) names the account in its payload.
    r = await api.call("PATCH", feed.account_path, {"status": "disconnected"})
    assert r.status_code == 200, r.text
    return feed


async def test_deleting_a_company_leaves_no_trace_of_it_in_any_table(
    api: Api, tenant: TenantKeys, sessions: async_sessionmaker[AsyncSession]
) -> None:
    marker, other = f"MK{secrets.token_hex(6)}", f"KEEP{secrets.token_hex(6)}"
    with receiver() as rec:
        clock.freeze(NOW)
        await subscribe(api_feed_owner(api), rec)
        feed = await _marked_company(api, tenant, marker)
        clock.freeze(NOW)
        kept = await _marked_company(api, tenant, other)
    before = await dump(sessions)
    found = tables_with(before, marker)
    for table in (
        "companies",
        "source_accounts",
        "bank_transactions",
        "webhook_events",
        "idempotency_keys",
        "reserves",
        "pending_transactions",
    ):
        assert table in found, f"the test's marker never reached {table}"

    r = await api.call("DELETE", f"/companies/{feed.link.company['id']}")
    assert r.status_code == 204, r.text

    after = await dump(sessions)
    assert tables_with(after, marker) == [], "the deleted company left traces"
    assert tables_with(after, other) == found, "another company of the tenant lost data"
    assert (await kept.account())["accountName"] == f"Checking {other}"
    async with sessions() as session:
        logged = (
            await session.execute(
                select(DestructionEntry.policy, DestructionEntry.table_name).where(
                    DestructionEntry.tenant_id == uuid.UUID(tenant.id)
                )
            )
        ).all()
    assert ("company_deleted", "companies") in logged
    assert ("company_deleted", "webhook_events") in logged


def api_feed_owner(api: Api) -> Linkable:
    """`subscribe` takes anything with an `api`."""
    return Linkable(api, {}, {}, None)  # type: ignore[arg-type]


async def test_deleting_an_account_leaves_no_trace_of_it_and_keeps_its_sibling(
    api: Api, tenant: TenantKeys, sessions: async_sessionmaker[AsyncSession]
) -> None:
    marker = f"AC{secrets.token_hex(6)}"
    with receiver() as rec:
        clock.freeze(NOW)
        await subscribe(api_feed_owner(api), rec)
        feed = await _marked_company(api, tenant, marker)
    r = await api.call(
        "POST", feed.link.accounts_path, v1_account("sav-2", accountName="Savings kept")
    )
    assert r.status_code == 200, r.text
    company_text = f"Shop {marker}"
    assert "source_accounts" in tables_with(await dump(sessions), f"Checking {marker}")

    assert (await api.call("DELETE", feed.account_path)).status_code == 204
    after = await dump(sessions)
    for text in (f"Checking {marker}", f"Coffee {marker}", f"Again {marker}", f"Ana {marker}"):
        assert tables_with(after, text) == [], f"{text!r} survived the account's deletion"
    assert "companies" in tables_with(after, company_text), "the company itself stays"
    listed = (await api.call("GET", feed.link.accounts_path)).json()
    assert [a["accountName"] for a in listed] == ["Savings kept"]
