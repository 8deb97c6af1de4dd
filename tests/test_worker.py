"""The worker, run for real: arq in burst mode on real Redis, the daily send, Update, the ten-day
detection and webhook delivery to a real HTTP receiver. Time moves by the clock, never by sleep."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import clock
from app.config import Settings
from app.connections.tables import LinkOtp
from app.jobruns.repository import all_runs
from tests.helpers.clients import Linkable
from tests.helpers.feeds import NOW, connect, day, tx
from tests.helpers.logs import LOG_LINES
from tests.helpers.receiver import receiver, subscribe
from tests.helpers.worker import run_job


async def test_purge_job_forgets_only_long_expired_otps(
    linkable: Linkable, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    clock.freeze(datetime(2026, 1, 10, 9, 0, tzinfo=UTC))
    old = await linkable.api.connection(linkable.company["id"])
    clock.freeze(datetime(2026, 1, 12, 9, 0, tzinfo=UTC))
    fresh = await linkable.api.connection(linkable.company["id"])
    counts = await run_job(settings, sessions, "purge_expired")
    assert counts["linkOtps"] >= 1
    async with sessions() as session:
        rows = set((await session.execute(select(LinkOtp.connection_id))).scalars())
    assert uuid.UUID(fresh["id"]) in rows
    assert uuid.UUID(old["id"]) not in rows, "expired more than a day ago: purged"


async def test_push_then_daily_send_then_pull(
    linkable: Linkable, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    feed = await connect(linkable)
    with receiver() as rec:
        await subscribe(feed, rec, "bankTransactions.write.successful")
        pushed = (await feed.push([tx("d1", day(-1), "-12.50"), tx("d2", day(0), 300)])).json()

        send_at = NOW + timedelta(hours=14)  # 05:00 UTC the next day
        clock.freeze(send_at)
        result = await run_job(settings, sessions, "daily_send")
        assert result["transactions"] >= 2

        op = (
            await feed.api.call(
                "GET", f"/companies/{linkable.company['id']}/push/{pushed['pushOperationKey']}"
            )
        ).json()
        assert op["status"] == "Success"
        assert op["statusCode"] == 200
        assert op["completedOnUtc"] == "2026-03-11T05:00:00Z"
        assert op["changes"][0]["type"] == "Created"

        clock.freeze(send_at + timedelta(hours=2))
        # Sent at 05:00Z on 11 March: the IDX date 2026-03-10, read Anywhere on Earth (it
        # runs to 11 March 12:00Z); the window up to tomorrow holds it.
        assert (await feed.pull("2026-03-11", "2026-03-12")).json()["results"] == []
        body = (await feed.pull("2026-03-10", "2026-03-12")).json()
        assert [t["transactionDescription"] for t in body["results"]] == [
            "Purchase d1",
            "Purchase d2",
        ]
        assert {t["modifiedDate"] for t in body["results"]} == {"2026-03-11T05:00:00Z"}

        again = await run_job(settings, sessions, "daily_send")
        assert again["transactions"] == 0, "nothing is sent twice"
        async with sessions() as session:
            last = (await all_runs(session))["daily_send"]
        assert (last.runner, last.outcome, last.result["transactions"]) == ("worker", "ok", 0)
        assert last.finished_at == send_at + timedelta(hours=2), "doctor can tell when it ran"

        await run_job(settings, sessions, "deliver_webhooks")
        events = rec.events("bankTransactions.write.successful")
        assert [e["payload"]["pushOperation"]["pushOperationKey"] for e in events] == [
            pushed["pushOperationKey"]
        ]
        job_line = json.loads(
            next(x for x in reversed(LOG_LINES) if '"job": "deliver_webhooks"' in x)
        )
        assert job_line["succeeded"] >= 1, "one line per run, with what it did"
        assert job_line["correlationId"].startswith("job-deliver_webhooks-")
        assert all(rec.verified)
        assert events[0]["payload"]["referenceCompany"]["id"] == linkable.company["id"]
        assert events[0]["payload"]["connectionId"] == linkable.connection["id"]


async def test_update_sends_pending_without_the_daily_send(linkable: Linkable) -> None:
    feed = await connect(linkable)
    pushed = (await feed.push([tx("u1", day(0), "-5.00")])).json()
    clock.freeze(NOW + timedelta(minutes=30))
    body = (await feed.pull(day(0), day(1))).json()
    assert [t["transactionDescription"] for t in body["results"]] == ["Purchase u1"]
    assert body["results"][0]["modifiedDate"] == "2026-03-10T15:30:00Z"
    op = (
        await feed.api.call(
            "GET", f"/companies/{linkable.company['id']}/push/{pushed['pushOperationKey']}"
        )
    ).json()
    assert op["status"] == "Success"
    listed = (
        await feed.api.call("GET", f"{feed.link.accounts_path}/chk-1/bankTransactions")
    ).json()
    # The Update's own answer carried it: sent, and delivered by the same pull.
    assert listed["results"][0]["status"] == "delivered"
    assert listed["results"][0]["sentOnUtc"] == "2026-03-10T15:30:00Z"
    assert listed["results"][0]["deliveredOnUtc"] == "2026-03-10T15:30:00Z"


async def test_detection_day_9_and_day_10(
    linkable: Linkable, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    feed = await connect(linkable)
    savings = await connect(linkable, name_of="Savings")  # both accounts connected at NOW
    with receiver() as rec:
        await subscribe(feed, rec)
        pending = (await feed.push([tx("late", day(0))])).json()

        clock.freeze(NOW + timedelta(days=9, hours=23))
        await run_job(settings, sessions, "detect_disconnects")
        accounts = {
            a["id"]: a["status"]
            for a in (await feed.api.call("GET", linkable.accounts_path)).json()
        }
        assert accounts == {"chk-1": "connected", "sav-2": "connected"}, "day 9: still connected"

        clock.freeze(NOW + timedelta(days=10))
        result = await run_job(settings, sessions, "detect_disconnects")
        assert result["accounts"] >= 2
        accounts = {
            a["id"]: a["status"]
            for a in (await feed.api.call("GET", linkable.accounts_path)).json()
        }
        assert accounts == {"chk-1": "disconnected", "sav-2": "disconnected"}
        assert (await feed.api.call("GET", linkable.connection_path)).json()["status"] == "Unlinked"
        op = (
            await feed.api.call(
                "GET", f"/companies/{linkable.company['id']}/push/{pending['pushOperationKey']}"
            )
        ).json()
        assert op["status"] == "Failed"
        r = await feed.push([tx("after", day(10))])
        assert r.json()["validation"]["errors"][0]["validatorName"] == "AccountConnected"

        # QuickBooks queries one account again: it reconnects, and so does the connection.
        r = await savings.pull()
        assert r.status_code == 200
        accounts = {
            a["id"]: a["status"]
            for a in (await feed.api.call("GET", linkable.accounts_path)).json()
        }
        assert accounts == {"chk-1": "disconnected", "sav-2": "connected"}
        assert (await feed.api.call("GET", linkable.connection_path)).json()["status"] == "Linked"

        await run_job(settings, sessions, "deliver_webhooks")
        kinds = [e["eventType"] for e in rec.events()]
        assert kinds.count("bankFeeds.sourceAccount.disconnected") == 2
        assert kinds.count("connection.disconnected") == 1
        assert kinds.count("bankTransactions.write.unsuccessful") == 1
        assert kinds.count("bankFeeds.sourceAccount.connected") == 1
        assert kinds.count("connection.connected") == 1
        assert all(rec.verified)
        disconnected = rec.events("bankFeeds.sourceAccount.disconnected")[0]["payload"]
        assert disconnected["sourceAccount"]["status"] == "disconnected"
        assert disconnected["referenceCompany"]["name"] == "Toft Stores"


async def test_a_failing_receiver_gets_the_event_exactly_once_more(
    linkable: Linkable, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    feed = await connect(linkable)
    with receiver(fail_first=3) as rec:
        endpoint = await subscribe(feed, rec, "bankTransactions.write.successful")
        await feed.push([tx("w1", day(0))])
        await feed.pull()  # Update: sends it, the operation succeeds, the event is written
        for _ in range(6):
            await run_job(settings, sessions, "deliver_webhooks")
            clock.shift(timedelta(hours=1))  # past any back-off
        assert len(rec.received) == 4, "3 failures, then one success, then nothing more"
        assert len({e["_webhookId"] for e in rec.received}) == 1, "the same event each time"
        assert all(rec.verified)
        deliveries = (
            await feed.api.call("GET", f"/webhooks/endpoints/{endpoint}/deliveries")
        ).json()["results"]
        assert len(deliveries) == 1
        assert deliveries[0]["status"] == "succeeded"
        assert [a["statusCode"] for a in deliveries[0]["attempts"]] == [500, 500, 500, 200]


async def test_endpoints_api(linkable: Linkable, other_api: Any) -> None:
    api = linkable.api
    r = await api.call("POST", "/webhooks/endpoints", {"url": "https://example.test/hook"})
    created = r.json()
    assert r.status_code == 201
    assert created["secret"].startswith("whsec_")
    assert created["eventTypes"] == []
    listed = (await api.call("GET", "/webhooks/endpoints")).json()["results"]
    assert [e["id"] for e in listed] == [created["id"]]
    assert "secret" not in listed[0], "the secret is shown once"
    assert (await other_api.call("GET", f"/webhooks/endpoints/{created['id']}")).status_code == 404
    assert (await api.call("POST", "/webhooks/endpoints", {"url": "ftp://x"})).status_code == 400
    assert (
        await api.call(
            "POST", "/webhooks/endpoints", {"url": "https://x.test", "eventTypes": ["nope"]}
        )
    ).status_code == 400
    assert (await api.call("DELETE", f"/webhooks/endpoints/{created['id']}")).status_code == 204
    assert (await api.call("GET", f"/webhooks/endpoints/{created['id']}")).status_code == 404


async def test_client_unlink_revokes_disconnects_fails_and_announces(
    linkable: Linkable, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """SPEC §4: a client PATCH {"status": "Unlinked"} ends the feed; new credentials link it
    again."""
    feed = await connect(linkable)
    await connect(linkable, name_of="Savings")
    spare = await linkable.new_credentials()  # a second set, not yet used by QuickBooks
    with receiver() as rec:
        await subscribe(feed, rec)
        pending = (await feed.push([tx("never", day(0))])).json()

        r = await feed.api.call("PATCH", linkable.connection_path, {"status": "Unlinked"})
        assert r.status_code == 200 and r.json()["status"] == "Unlinked"
        for idx in (linkable.idx, spare):  # every set is revoked
            assert (await idx.get("/accounts")).status_code == 401
        accounts = {
            a["id"]: a["status"]
            for a in (await feed.api.call("GET", linkable.accounts_path)).json()
        }
        assert accounts == {"chk-1": "disconnected", "sav-2": "disconnected"}
        op = (
            await feed.api.call(
                "GET", f"/companies/{linkable.company['id']}/push/{pending['pushOperationKey']}"
            )
        ).json()
        assert op["status"] == "Failed"
        await run_job(settings, sessions, "deliver_webhooks")
        kinds = [e["eventType"] for e in rec.events()]
        assert kinds.count("connection.disconnected") == 1
        assert kinds.count("bankFeeds.sourceAccount.disconnected") == 2
        assert kinds.count("bankTransactions.write.unsuccessful") == 1

    again = await linkable.new_credentials()
    account = (await again.get("/accounts")).json()["results"][0]["id"]
    assert (await again.get(f"/accounts/{account}/transactions")).status_code == 200
    assert (await feed.api.call("GET", linkable.connection_path)).json()["status"] == "Linked"


async def test_last_sync_is_quickbooks_last_query_of_any_account(linkable: Linkable) -> None:
    company_path = f"/companies/{linkable.company['id']}"
    assert (await linkable.api.call("GET", linkable.connection_path)).json()["lastSync"] is None
    await connect(linkable, at=NOW)
    await connect(linkable, at=NOW + timedelta(hours=3), name_of="Savings")
    later = "2026-03-10T18:00:00Z"
    connection = (await linkable.api.call("GET", linkable.connection_path)).json()
    company = (await linkable.api.call("GET", company_path)).json()
    assert connection["lastSync"] == later
    assert company["lastSync"] == later
    assert company["dataConnections"][0]["lastSync"] == later
    listed = (await linkable.api.call("GET", f"{company_path}/connections")).json()
    assert listed["results"][0]["lastSync"] == later
    # Listing accounts is not a query of an account: lastSync stays.
    clock.freeze(NOW + timedelta(hours=5))
    await linkable.idx.get("/accounts")
    assert (await linkable.api.call("GET", linkable.connection_path)).json()["lastSync"] == later


async def test_an_earlier_query_never_moves_last_sync_back(linkable: Linkable) -> None:
    """A slower query answered at an earlier instant (its transaction committing after a later
    one) leaves the connection's and the company's lastSync at the later query."""
    company_path = f"/companies/{linkable.company['id']}"
    feed = await connect(linkable, at=NOW + timedelta(hours=3))
    clock.freeze(NOW)
    assert (await feed.pull()).status_code == 200
    later = "2026-03-10T18:00:00Z"
    assert (await linkable.api.call("GET", linkable.connection_path)).json()["lastSync"] == later
    assert (await linkable.api.call("GET", company_path)).json()["lastSync"] == later
    clock.freeze(NOW + timedelta(hours=4))
    assert (await feed.pull()).status_code == 200
    latest = "2026-03-10T19:00:00Z"
    assert (await linkable.api.call("GET", linkable.connection_path)).json()["lastSync"] == latest
    assert (await linkable.api.call("GET", company_path)).json()["lastSync"] == latest
