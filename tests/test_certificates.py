"""Balance certificates end to end: pushes through the official SDK, the daily send and
QuickBooks' pulls through the real IDX API and worker, webhooks to a real receiver."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import clock
from app.certificates.tables import DailyBalanceChange
from app.config import Settings
from tests.contracts import sdk
from tests.helpers.builders import TenantKeys
from tests.helpers.certificates import DIGEST_EVENT, GAP_EVENT, certificates, from_scratch, line
from tests.helpers.clients import Linkable, assert_error, metric_value
from tests.helpers.feeds import NOW, Feed, connect, day
from tests.helpers.receiver import receiver, subscribe
from tests.helpers.worker import run_job


async def sdk_push(codat: sdk.Sdk, feed: Feed, items: list[dict[str, Any]]) -> None:
    """A push as a Codat client makes it, balances and all."""
    done = await codat.call(
        codat.client.transactions.create,
        request={
            "company_id": feed.link.company["id"],
            "connection_id": feed.link.connection["id"],
            "account_id": feed.account_id,
            "create_bank_transactions": {"accountId": feed.account_id, "transactions": items},
        },
    )
    assert done.status_code == 202, done


async def test_a_missing_line_is_a_gap_until_pushed_then_a_new_revision_is_certified(
    linkable: Linkable,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
    tenant: TenantKeys,
) -> None:
    feed = await connect(linkable)
    codat = sdk.Sdk(client, tenant.headers)
    d1, d2 = day(-2), day(-1)
    with receiver() as rec:
        await subscribe(feed, rec, GAP_EVENT, DIGEST_EVENT)
        await sdk_push(
            codat, feed, [line("a1", d1, "50.00", "1050.00"), line("a2", d1, "-20.00", "1030.00")]
        )
        # Day 2 at the bank: b1 -10 (1020), b2 -5 (1015), b3 -15 (1000). b2 never arrives.
        await sdk_push(
            codat, feed, [line("b1", d2, "-10.00", "1020.00"), line("b3", d2, "-15.00", "1000.00")]
        )

        clock.freeze(NOW + timedelta(hours=1))
        await run_job(settings, sessions, "daily_send")
        sent = await certificates(feed)
        assert sent[d1]["status"] == "pendingDelivery", "published, QuickBooks has not pulled"
        assert sent[d1]["opening"] == 1000 and sent[d1]["closing"] == 1030
        assert sent[d2]["status"] == "gap"
        assert sent[d2]["firstBreak"] == "b3", "the line after the missing one"
        assert sent[d2]["difference"] == -5, "the missing amount"

        clock.freeze(NOW + timedelta(hours=2))
        assert (await feed.pull(day(-7), day(1))).status_code == 200
        pulled = await certificates(feed)
        assert pulled[d1]["status"] == "certified"
        assert pulled[d1]["deliveredThroughUtc"] is not None
        assert pulled[d1]["credits"] == 50 and pulled[d1]["debits"] == -20
        assert pulled[d1]["count"] == 2 and pulled[d1]["expectedClosing"] == 1030
        assert pulled[d2]["status"] == "gap" and pulled[d2]["revision"] == 1

        # More runs and pulls change nothing and announce nothing again.
        await run_job(settings, sessions, "certify_balances")
        assert (await feed.pull(day(-7), day(1))).status_code == 200
        await run_job(settings, sessions, "deliver_webhooks")
        gaps = rec.events(GAP_EVENT)
        assert len(gaps) == 1, gaps
        assert gaps[0]["payload"]["certificate"]["date"] == d2
        assert gaps[0]["payload"]["certificate"]["firstBreak"] == "b3"
        assert gaps[0]["payload"]["sourceAccountId"] == feed.account_id

        # The missing line, pushed on its own date: day 2 is re-opened as revision 2.
        clock.freeze(NOW + timedelta(hours=3))
        await sdk_push(codat, feed, [line("b2", d2, "-5.00", "1015.00")])
        await run_job(settings, sessions, "daily_send")
        reopened = await certificates(feed)
        assert reopened[d2]["revision"] == 2 and reopened[d2]["status"] == "pendingDelivery"
        assert reopened[d1]["revision"] == 1 and reopened[d1]["status"] == "certified"

        clock.freeze(NOW + timedelta(hours=4))
        assert (await feed.pull(day(-7), day(1))).status_code == 200
        one = await feed.api.call("GET", f"{feed.account_path}/balanceCertificates/{d2}")
        assert one.status_code == 200, one.text
        fixed = one.json()
        assert fixed["status"] == "certified" and fixed["revision"] == 2
        assert fixed["firstBreak"] is None and fixed["difference"] is None
        assert [x["id"] for x in fixed["lines"]] == ["b1", "b3", "b2"], "acceptance order"
        assert [(r["revision"], r["status"], r["current"]) for r in fixed["revisions"]] == [
            (1, "gap", False),
            (2, "certified", True),
        ]
        assert fixed["revisions"][1]["previousDigest"] != fixed["revisions"][0]["previousDigest"]

        await run_job(settings, sessions, "certify_balances")
        await run_job(settings, sessions, "deliver_webhooks")
        assert len(rec.events(GAP_EVENT)) == 1, "balanceGap was sent once"
        digests = rec.events(DIGEST_EVENT)
        assert len(digests) == 1, "one digest a day per connection: today's went out already"
        assert [(c["date"], c["revision"]) for c in digests[0]["payload"]["certified"]] == [(d1, 1)]
        clock.freeze(NOW + timedelta(days=1))
        await run_job(settings, sessions, "certify_balances")
        await run_job(settings, sessions, "deliver_webhooks")
        digests = rec.events(DIGEST_EVENT)
        assert len(digests) == 2
        assert [(c["date"], c["revision"]) for c in digests[1]["payload"]["certified"]] == [(d2, 2)]


async def test_a_day_after_a_gap_is_never_certified_and_a_late_line_for_it_is_refused(
    linkable: Linkable, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    feed = await connect(linkable)
    d1, d2, d3 = day(-3), day(-2), day(-1)
    pushes = [
        [line("a1", d1, "50.00", "1050.00")],
        [line("b1", d2, "-10.00", "1040.00"), line("b3", d2, "-15.00", "1020.00")],
        [line("c1", d3, "40.00", "1060.00")],
    ]
    for items in pushes:
        assert (await feed.push(items)).status_code == 200
    clock.freeze(NOW + timedelta(hours=1))
    await run_job(settings, sessions, "daily_send")
    clock.freeze(NOW + timedelta(hours=2))
    assert (await feed.pull(day(-7), day(1))).status_code == 200
    await run_job(settings, sessions, "certify_balances")
    got = await certificates(feed)
    assert [got[d]["status"] for d in (d1, d2, d3)] == ["certified", "gap", "unknown"]
    assert got[d2]["difference"] == -5 and got[d2]["firstBreak"] == "b3"
    # Codat's chronological rule: a line dated before the latest accepted day is refused, so
    # day 2 stays a gap (the calendar says so, and what to do).
    late = await feed.push([line("b2", d2, "-5.00", "1035.00")])
    assert_error(late, 400)
    health = await feed.api.call("GET", f"{linkable.connection_path}/feedHealth")
    assert health.json()["accountsWithBalanceGap"] == 1
    metrics = (await feed.api.http.get("/metrics")).text
    assert metric_value(metrics, "bankfeeds_balance_gap_accounts") >= 1
    assert metric_value(metrics, "bankfeeds_balance_gap_days") >= 1
    oldest = metric_value(metrics, "bankfeeds_balance_oldest_uncertified_day_timestamp_seconds")
    assert 0 < oldest <= datetime.combine(date.fromisoformat(d2), time(), UTC).timestamp()
    account_pk = uuid.UUID(feed.idx_account_id)
    scratch = await from_scratch(sessions, account_pk)
    assert {d.isoformat(): s.status for d, s in scratch.items()} == {
        d: c["status"] for d, c in got.items()
    }


async def test_balances_are_judged_per_item_replaced_with_an_audit_and_anchor_the_day(
    linkable: Linkable, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    feed = await connect(linkable)
    path = f"{feed.account_path}/balances"
    d1, d2 = day(-2), day(-1)
    bad = await feed.api.call(
        "POST",
        path,
        {
            "balances": [
                {"date": d1, "closingBalance": 10},
                {"date": "2026-02-30", "closingBalance": 1},
                {"date": d2, "closingBalance": "1.234"},
            ]
        },
    )
    body = assert_error(bad, 400)
    named = {e["itemId"] for e in body["validation"]["errors"]}
    assert named == {"2026-02-30", d2}
    assert await certificates(feed) == {}, "nothing stored"

    # Lines without balances: only the bank's figures anchor the days.
    assert (await feed.push([line("x1", d1, "-10.00", None)])).status_code == 200
    assert (await feed.push([line("x2", d2, "-20.00", None)])).status_code == 200
    first = await feed.api.call(
        "POST",
        path,
        {
            "balances": [
                {"date": d1, "closingBalance": 990},
                {"date": d2, "closingBalance": 975, "availableBalance": 900},
            ]
        },
    )
    assert first.status_code == 200, first.text
    assert [r["result"] for r in first.json()["results"]] == ["created", "created"]
    got = await certificates(feed)
    assert got[d1]["status"] == "unknown", "nothing before day 1 to open it"
    assert got[d2]["status"] == "gap" and got[d2]["firstBreak"] is None
    assert got[d2]["difference"] == 5, "990 - 20 = 970, the bank says 975"

    again = await feed.api.call(
        "POST",
        path,
        {"balances": [{"date": d1, "closingBalance": 990}, {"date": d2, "closingBalance": 970}]},
    )
    assert [r["result"] for r in again.json()["results"]] == ["unchanged", "replaced"]
    clock.freeze(NOW + timedelta(hours=1))
    await run_job(settings, sessions, "daily_send")
    assert (await feed.pull(day(-7), day(1))).status_code == 200
    fixed = await certificates(feed)
    assert fixed[d2]["status"] == "certified" and fixed[d2]["revision"] == 2

    async with sessions() as session:
        audit = (
            (
                await session.execute(
                    select(DailyBalanceChange).where(
                        DailyBalanceChange.account_pk == uuid.UUID(feed.idx_account_id)
                    )
                )
            )
            .scalars()
            .all()
        )
    assert [(a.old_closing, a.new_closing) for a in audit] == [(975, 970)]


async def test_strict_mode_refuses_a_push_that_breaks_the_running_balance(
    linkable: Linkable,
) -> None:
    feed = await connect(linkable)
    api = feed.api
    assert (await api.call("GET", "/settings/balances")).json() == {"strict": False}
    assert (await feed.push([line("s1", day(-1), "-10.00", "990.00")])).status_code == 200
    broken = [line("s2", day(-1), "-10.00", "980.00"), line("s4", day(-1), "-10.00", "960.00")]
    assert (await api.call("PUT", "/settings/balances", {"strict": True})).json() == {
        "strict": True
    }
    refused = assert_error(await feed.push(broken), 400)
    assert [e["itemId"] for e in refused["validation"]["errors"]] == ["s4"]
    assert "970.00" in refused["validation"]["errors"][0]["message"]
    fine = [line("s2", day(-1), "-10.00", "980.00"), line("s3", day(-1), "-10.00", "970.00")]
    assert (await feed.push(fine)).status_code == 200
    # Off again (the default): the break is accepted and only shows as a gap.
    assert (await api.call("PUT", "/settings/balances", {"strict": False})).status_code == 200
    assert (await feed.push([line("s5", day(-1), "-10.00", "950.00")])).status_code == 200
