"""Delivery receipts (pending → sent → delivered, from the pull log) and feed health (stale after
BANKFEEDS_STALE_AFTER_HOURS, fresh on the next pull), through the real IDX API and worker."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import clock
from app.accounts.jobs import detect_stale_feeds
from app.config import Settings
from app.idx.tables import Reserve
from app.transactions.tables import IdxPull
from tests.helpers.builders import TenantKeys
from tests.helpers.clients import Linkable, metric_value
from tests.helpers.feeds import NOW, Feed, connect, day, tx
from tests.helpers.receiver import receiver, subscribe
from tests.helpers.worker import run_job


async def states(feed: Feed, status: str | None = None) -> dict[str, dict[str, Any]]:
    params = {"status": status} if status else {}
    r = await feed.api.call("GET", f"{feed.account_path}/bankTransactions", params=params)
    assert r.status_code == 200, r.text
    return {t["id"]: t for t in r.json()["results"]}


async def operation(feed: Feed, key: str) -> dict[str, Any]:
    """The push operation with its delivery inline (the opt-in; Codat's shape has none)."""
    path = f"/companies/{feed.link.company['id']}/push/{key}"
    plain = await feed.api.call("GET", path)
    assert "deliveredOnUtc" not in plain.json(), "Codat's shape by default"
    opted = {**feed.api.headers, "Bankfeeds-Include": "deliveredOnUtc"}
    r = await feed.api.http.get(path, headers=opted)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def health(feed: Feed) -> dict[str, Any]:
    r = await feed.api.call("GET", f"{feed.link.connection_path}/feedHealth")
    assert r.status_code == 200, r.text
    return {a["id"]: a for a in r.json()["results"]}


async def pulls_of(sessions: async_sessionmaker[AsyncSession], feed: Feed) -> list[IdxPull]:
    async with sessions() as session:
        stmt = (
            select(IdxPull)
            .where(IdxPull.account_pk == uuid.UUID(feed.idx_account_id))
            .order_by(IdxPull.id)
        )
        return list((await session.execute(stmt)).scalars())


async def test_pulled_is_delivered_published_is_sent_and_a_refused_pull_delivers_nothing(
    linkable: Linkable, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    feed = await connect(linkable)
    pushed = (await feed.push([tx("d1", day(0)), tx("d2", day(0))])).json()
    assert {t["status"] for t in (await states(feed)).values()} == {"pending"}

    clock.freeze(NOW + timedelta(hours=1))
    await run_job(settings, sessions, "daily_send")
    sent = await states(feed)
    assert {t["status"] for t in sent.values()} == {"sent"}, "published, not yet pulled"
    assert all(t["deliveredOnUtc"] is None for t in sent.values())
    assert "deliveredOnUtc" not in await operation(feed, pushed["pushOperationKey"])

    # QuickBooks' credentials are revoked: its pull is refused (401) and delivers nothing.
    await feed.api.call("DELETE", f"{linkable.accounts_path}/credentials")
    clock.freeze(NOW + timedelta(hours=2))
    refused = await feed.pull(day(0), day(1))
    assert refused.status_code == 401
    assert {t["status"] for t in (await states(feed)).values()} == {"sent"}

    # New credentials; QuickBooks reads one transaction per page: page 1 delivers d1 only.
    idx = await linkable.new_credentials()
    path = f"/accounts/{feed.idx_account_id}/transactions"
    clock.freeze(NOW + timedelta(hours=3))
    r = await idx.get(path, startDate=day(0), endDate=day(1), page=1, pageSize=1)
    assert r.status_code == 200 and len(r.json()["results"]) == 1, r.text
    after_one = await states(feed)
    assert after_one["d1"]["status"] == "delivered"
    assert after_one["d1"]["deliveredOnUtc"] == "2026-03-10T18:00:00Z"
    assert after_one["d2"]["status"] == "sent"
    assert set(await states(feed, "delivered")) == {"d1"}
    assert set(await states(feed, "sent")) == {"d2"}
    assert "deliveredOnUtc" not in await operation(feed, pushed["pushOperationKey"])

    # Page 2 carries d2: the push is delivered once all of it is, at that pull's time.
    clock.freeze(NOW + timedelta(hours=4))
    r = await idx.get(path, startDate=day(0), endDate=day(1), page=2, pageSize=1)
    assert len(r.json()["results"]) == 1
    assert set(await states(feed, "delivered")) == {"d1", "d2"}
    op = await operation(feed, pushed["pushOperationKey"])
    assert op["deliveredOnUtc"] == "2026-03-10T19:00:00Z"
    # A later pull of the same rows does not move the first delivery.
    clock.freeze(NOW + timedelta(hours=5))
    await idx.get(path, startDate=day(0), endDate=day(1))
    assert (await states(feed))["d1"]["deliveredOnUtc"] == "2026-03-10T18:00:00Z"

    logged = await pulls_of(sessions, feed)
    answered = [p for p in logged if p.pulled_at >= NOW + timedelta(hours=3)]
    assert [(p.page_number, p.rows, p.total, p.status) for p in answered] == [
        (1, 1, 2, 200),
        (2, 1, 2, 200),
        (1, 2, 2, 200),
    ]
    assert not [p for p in logged if p.pulled_at == NOW + timedelta(hours=2)], "401: no pull"


async def test_update_delivers_what_it_sends_and_a_bad_range_is_logged_as_refused(
    linkable: Linkable, sessions: async_sessionmaker[AsyncSession]
) -> None:
    feed = await connect(linkable)
    await feed.push([tx("u1", day(0))])
    clock.freeze(NOW + timedelta(minutes=10))
    assert (await feed.pull(day(0), day(1))).status_code == 200  # Update: sent, then served
    assert (await states(feed))["u1"]["status"] == "delivered"

    bad = await feed.pull(day(1), day(0))
    assert bad.status_code == 400
    last = (await pulls_of(sessions, feed))[-1]
    assert (last.status, last.rows, last.first_id) == (400, 0, None)


async def test_stale_after_48_hours_once_then_fresh_on_the_next_pull(
    linkable: Linkable,
    tenant: TenantKeys,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
) -> None:
    feed = await connect(linkable)
    assert (await health(feed))["chk-1"]["feedHealth"] == "healthy"
    assert (await health(feed))["chk-1"]["lastPulledOnUtc"] == "2026-03-10T15:00:00Z"
    with receiver() as rec:
        await subscribe(feed, rec, "bankFeeds.sourceAccount.stale", "bankFeeds.sourceAccount.fresh")
        clock.freeze(NOW + timedelta(hours=47))
        await detect_stale_feeds(sessions, settings)
        assert (await health(feed))["chk-1"]["feedHealth"] == "healthy"

        clock.freeze(NOW + timedelta(hours=49))
        await detect_stale_feeds(sessions, settings)
        await detect_stale_feeds(sessions, settings)  # a second run announces nothing more
        account = (await health(feed))["chk-1"]
        assert account["feedHealth"] == "stale"
        assert account["staleSinceUtc"] == "2026-03-12T16:00:00Z"
        assert account["status"] == "connected"
        accounts = f"{feed.link.connection_path}/connectionInfo/bankFeedAccounts"
        listed = await feed.api.call("GET", accounts)
        plain = next(a for a in listed.json() if a["id"] == "chk-1")
        assert "feedHealth" not in plain and "lastPulledOnUtc" not in plain, "Codat's shape"
        opted = {**feed.api.headers, "Bankfeeds-Include": "feedHealth"}
        listed = await feed.api.http.get(accounts, headers=opted)
        answer = next(a for a in listed.json() if a["id"] == "chk-1")
        assert answer["feedHealth"] == "stale", "the account answers carry it on opt-in"
        assert answer["lastPulledOnUtc"] == "2026-03-10T15:00:00Z"
        patched = await feed.api.http.patch(
            f"{accounts}/chk-1", json={"accountName": "Business Checking"}, headers=opted
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["feedHealth"] == "stale"
        scraped = (await client.get("/metrics")).text
        assert metric_value(scraped, "bankfeeds_stale_source_accounts", tenant=tenant.id) == 1

        await run_job(settings, sessions, "deliver_webhooks")
        assert [e["eventType"] for e in rec.events()] == ["bankFeeds.sourceAccount.stale"]
        stale = rec.events("bankFeeds.sourceAccount.stale")[0]["payload"]
        assert stale["sourceAccount"]["id"] == "chk-1"
        assert stale["feedHealth"]["feedHealth"] == "stale"
        assert stale["feedHealth"]["lastPulledOnUtc"] == "2026-03-10T15:00:00Z"

        clock.freeze(NOW + timedelta(hours=50))
        assert (await feed.pull()).status_code == 200
        assert (await health(feed))["chk-1"]["feedHealth"] == "healthy"
        await feed.pull()  # pulls go on: nothing more to announce
        await run_job(settings, sessions, "deliver_webhooks")
        kinds = [e["eventType"] for e in rec.events()]
        assert kinds == ["bankFeeds.sourceAccount.stale", "bankFeeds.sourceAccount.fresh"]
        assert all(rec.verified)

    scraped = (await client.get("/metrics")).text
    assert metric_value(scraped, "bankfeeds_stale_source_accounts", tenant=tenant.id) == 0
    # Cumulative buckets: the pull at +50 h came 50 h after the one before (above 48 h, within
    # 72 h); the one right after it, 0 s.
    lag = "bankfeeds_idx_pull_lag_seconds_bucket"
    assert metric_value(scraped, lag, le="3600.0", tenant=tenant.id) == 1
    assert metric_value(scraped, lag, le="172800.0", tenant=tenant.id) == 1
    assert metric_value(scraped, lag, le="259200.0", tenant=tenant.id) == 2


async def test_a_disconnected_feed_reads_disconnected(linkable: Linkable) -> None:
    feed = await connect(linkable)
    r = await feed.api.call("PATCH", feed.account_path, {"status": "disconnected"})
    assert r.status_code == 200, r.text
    listed = await health(feed)
    assert listed["chk-1"]["feedHealth"] == "disconnected"
    never = next(a for key, a in listed.items() if key != "chk-1")
    assert never["feedHealth"] is None and never["lastPulledOnUtc"] is None


async def test_reserve_republishes_with_the_same_ids_and_is_audited(
    linkable: Linkable, sessions: async_sessionmaker[AsyncSession]
) -> None:
    feed = await connect(linkable)
    await feed.push([tx("r1", day(0)), tx("r2", day(0))])
    clock.freeze(NOW + timedelta(minutes=10))
    first = (await feed.pull(day(0), day(1))).json()["results"]
    assert {t["status"] for t in (await states(feed)).values()} == {"delivered"}

    clock.freeze(NOW + timedelta(days=2))
    path = f"{feed.account_path}/reserve"
    body = {"fromDate": day(0), "toDate": day(0), "requestedBy": "Ana (support)"}
    dry = await feed.api.call("POST", path, {**body, "dryRun": True})
    assert dry.status_code == 200, dry.text
    assert (dry.json()["rows"], dry.json()["id"]) == (2, None)
    assert {t["status"] for t in (await states(feed)).values()} == {"delivered"}, "dry run"

    done = (await feed.api.call("POST", path, body)).json()
    assert done["rows"] == 2 and done["id"]
    assert done["requestedBy"] == "api: Ana (support)"
    assert done["requestedOnUtc"] == "2026-03-12T15:00:00Z"
    again = await states(feed)
    assert {t["status"] for t in again.values()} == {"sent"}, "published again, not yet pulled"
    assert {t["sentOnUtc"] for t in again.values()} == {"2026-03-12T15:00:00Z"}

    # QuickBooks' next pull (from the re-serve day) brings them again, under the same ids.
    clock.freeze(NOW + timedelta(days=2, hours=1))
    second = (await feed.pull(day(2), day(3))).json()["results"]
    assert sorted(t["transactionId"] for t in second) == sorted(t["transactionId"] for t in first)
    assert {t["status"] for t in (await states(feed)).values()} == {"delivered"}

    async with sessions() as session:
        audit = (
            await session.execute(
                select(Reserve).where(Reserve.account_pk == uuid.UUID(feed.idx_account_id))
            )
        ).scalar_one()
    assert (audit.actor, audit.rows, audit.from_date.isoformat()) == (
        "api: Ana (support)",
        2,
        day(0),
    )

    bad = await feed.api.call("POST", path, {"fromDate": day(1), "toDate": day(0)})
    assert bad.status_code == 400
    assert bad.json()["validation"]["errors"][0]["itemId"] == "toDate"

    pulls = (await feed.api.call("GET", f"{feed.account_path}/pulls")).json()["results"]
    assert [(p["rows"], p["statusCode"]) for p in pulls[:2]] == [(2, 200), (2, 200)]
    assert pulls[0]["startDate"] == "2026-03-12T12:00:00Z"  # the date read Anywhere on Earth
    assert pulls[0]["pulledOnUtc"] > pulls[1]["pulledOnUtc"]
