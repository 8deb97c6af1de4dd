"""Reversal lines, withdrawn links and the webhooks of pendings."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import clock
from app.webhooks.tables import WebhookEvent
from tests.helpers.builders import TenantKeys
from tests.helpers.clients import Linkable, assert_error
from tests.helpers.feeds import NOW, connect, day, tx
from tests.helpers.pendings import (
    assert_once,
    hold,
    pending,
    post_holds,
    quickbooks_sees,
    set_matching,
)


async def _events(
    sessions: async_sessionmaker[AsyncSession], tenant: TenantKeys, prefix: str
) -> list[dict[str, Any]]:
    async with sessions() as session:
        rows = (
            await session.execute(
                select(WebhookEvent)
                .where(
                    WebhookEvent.tenant_id == uuid.UUID(tenant.id),
                    WebhookEvent.event_type.startswith(prefix),
                )
                .order_by(WebhookEvent.created_at)
            )
        ).scalars()
        return [json.loads(r.body) for r in rows]


async def test_a_reversal_offsets_a_published_line_once(
    linkable: Linkable, sessions: async_sessionmaker[AsyncSession], tenant: TenantKeys
) -> None:
    feed = await connect(linkable)
    await feed.api.call("POST", "/webhooks/endpoints", {"url": "http://127.0.0.1:9/hook"})
    r = await feed.push([tx("orig", day(0), "-42.00", transactionType="Debit")])
    assert r.status_code == 200, r.text
    base = f"{feed.link.connection_path}/push/bankAccounts/{feed.account_id}/bankTransactions"
    # Not yet sent: nothing to reverse.
    assert_error(await feed.api.call("POST", f"{base}/orig/reversal", {}), 409)
    assert_error(await feed.api.call("POST", f"{base}/nope/reversal", {}), 404)
    await quickbooks_sees(feed)
    clock.freeze(NOW + timedelta(days=1))
    r = await feed.api.call("POST", f"{base}/orig/reversal", {})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["id"] == "orig-reversal" and got["amount"] == 42.0 and got["date"] == day(1)
    assert "orig" in got["description"]
    assert_error(await feed.api.call("POST", f"{base}/orig/reversal", {"id": "again"}), 409)
    assert_error(await feed.api.call("POST", f"{base}/orig-reversal/reversal", {}), 409)
    served = (await feed.pull(day(-60), day(3))).json()["results"]
    seen = assert_once(feed, served, ["orig", "orig-reversal"], [])
    assert seen["orig"]["amount"]["amount"] == "-42.00", "the original is never edited"
    assert seen["orig-reversal"]["amount"]["amount"] == "42.00"
    assert seen["orig-reversal"]["transactionValueType"] == "CREDIT"
    (event,) = await _events(sessions, tenant, "bankTransactions.reversed")
    assert event["payload"]["transactionId"] == "orig"
    assert event["payload"]["reversalTransactionId"] == "orig-reversal"


async def test_a_reversal_dated_outside_the_rules_is_refused(linkable: Linkable) -> None:
    feed = await connect(linkable)
    await feed.push([tx("o2", day(0))])
    await quickbooks_sees(feed)
    base = f"{feed.link.connection_path}/push/bankAccounts/{feed.account_id}/bankTransactions"
    r = await feed.api.call("POST", f"{base}/o2/reversal", {"date": day(-9)})
    body = assert_error(r, 400)
    assert body["validation"]["errors"][0]["validatorName"] in ("SevenDayBackfill", "Chronological")
    r = await feed.api.call("POST", f"{base}/o2/reversal", {"id": "o2-r", "date": day(0)})
    assert r.status_code == 200, r.text


async def test_links_of_a_timed_out_push_go_and_the_hold_is_held_again(
    linkable: Linkable,
) -> None:
    feed = await connect(linkable)
    await post_holds(feed, [hold("to", day(-1), "-15.00")])
    r = await feed.push(
        [tx("to-1", day(0), "-15.00", pendingTransactionId="to")], timeoutInMinutes=5
    )
    assert r.status_code == 200, r.text
    assert (await pending(feed, "to"))["status"] == "posted"
    clock.freeze(NOW + timedelta(minutes=10))
    ops = await feed.api.call("GET", f"/companies/{feed.link.company['id']}/push")
    assert ops.json()["results"][0]["status"] == "TimedOut"
    got = await pending(feed, "to")
    assert got["status"] == "held" and got["links"] == []
    assert await quickbooks_sees(feed) == []


async def test_pending_webhooks(
    linkable: Linkable, sessions: async_sessionmaker[AsyncSession], tenant: TenantKeys
) -> None:
    feed = await connect(linkable)
    await feed.api.call("POST", "/webhooks/endpoints", {"url": "http://127.0.0.1:9/hook"})
    await set_matching(feed, "auto")
    await post_holds(feed, [hold("w1", day(-1), "-10.00"), hold("w2", day(-1), "-20.00")])
    await post_holds(feed, [hold("w3", day(-1), "-20.00")])
    await feed.push([tx("wc1", day(0), "-10.50", pendingTransactionId="w1")])
    await feed.push([tx("wc2", day(0), "-20.00")])
    (posted,) = await _events(sessions, tenant, "bankTransactions.pending.posted")
    assert posted["payload"]["pendingTransactionId"] == "w1"
    assert posted["payload"]["transactionIds"] == ["wc1"]
    assert posted["payload"]["matchedBy"] == "pendingTransactionId"
    assert posted["payload"]["amountDelta"] == -0.5
    suggested = await _events(sessions, tenant, "bankTransactions.pending.matchSuggested")
    assert sorted(e["payload"]["pendingTransactionId"] for e in suggested) == ["w2", "w3"]
    assert_once(feed, await quickbooks_sees(feed), ["wc1", "wc2"], ["w1", "w2", "w3"])
