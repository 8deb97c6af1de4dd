"""The retention purge: with the clock moved past each period, `purge-retention` destroys exactly
what the policy says (never a pending line, an undelivered one, or an account's latest), writes
the destruction log, runs twice to no effect, shares the work between workers, and never stops
a push or a pull running beside it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import clock
from app.config import Settings
from app.retention.jobs import purge_tenant
from app.retention.service import effective_days
from app.retention.tables import DestructionEntry
from app.transactions.tables import BankTransaction, IdxPull, PushOperation, SentBatch
from app.webhooks.tables import WebhookAttempt, WebhookDelivery, WebhookEvent
from tests.helpers.builders import TenantKeys
from tests.helpers.clients import Linkable
from tests.helpers.feeds import NOW, Feed, connect, day, tx
from tests.helpers.receiver import receiver, subscribe
from tests.helpers.worker import run_job

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


async def _count(sessions: async_sessionmaker[AsyncSession], stmt: Any) -> int:
    async with sessions() as session:
        return int((await session.execute(stmt)).scalar_one())


async def _lines(sessions: async_sessionmaker[AsyncSession], feed: Feed) -> set[str]:
    pk = uuid.UUID(feed.idx_account_id)
    async with sessions() as session:
        stmt = select(BankTransaction.transaction_id).where(BankTransaction.account_pk == pk)
        return set((await session.execute(stmt)).scalars())


async def _log(
    sessions: async_sessionmaker[AsyncSession], tenant: TenantKeys, at: datetime
) -> dict[tuple[str, str], DestructionEntry]:
    async with sessions() as session:
        stmt = select(DestructionEntry).where(
            DestructionEntry.tenant_id == uuid.UUID(tenant.id), DestructionEntry.at == at
        )
        return {(e.policy, e.table_name): e for e in (await session.execute(stmt)).scalars()}


async def _two_days(
    feed: Feed,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    first: list[dict[str, Any]],
) -> None:
    """`first` pushed on day 0, b1 on day 1, each day's batch sent and pulled by QuickBooks."""
    await feed.push(first)
    clock.freeze(NOW + HOUR)
    await run_job(settings, sessions, "daily_send")
    clock.freeze(NOW + 2 * HOUR)
    assert (await feed.pull(day(0), day(1))).status_code == 200
    clock.freeze(NOW + DAY)
    await feed.push([tx("b1", day(1))])
    clock.freeze(NOW + DAY + HOUR)
    await run_job(settings, sessions, "daily_send")
    clock.freeze(NOW + DAY + 2 * HOUR)
    assert (await feed.pull(day(1), day(2))).status_code == 200


async def _history(
    feed: Feed, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Batch A (a1, a2) sent and pulled on day 0, batch B (b1) on day 1, c1 pushed on day 2 and
    still pending; webhooks announced each push's success and were delivered."""
    await _two_days(feed, settings, sessions, [tx("a1", day(0)), tx("a2", day(0))])
    clock.freeze(NOW + DAY + 3 * HOUR)
    await run_job(settings, sessions, "deliver_webhooks")
    clock.freeze(NOW + 2 * DAY)
    assert (await feed.push([tx("c1", day(2))])).status_code == 200


async def test_purge_destroys_exactly_what_the_policy_says_and_logs_it(
    linkable: Linkable,
    tenant: TenantKeys,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    feed = await connect(linkable)
    pk = uuid.UUID(feed.idx_account_id)
    with receiver() as rec:
        await subscribe(feed, rec, "bankTransactions.write.successful")
        await _history(feed, settings, sessions)
    tenant_id = uuid.UUID(tenant.id)
    pulls = await _count(sessions, select(func.count()).where(IdxPull.account_pk == pk))
    events = await _count(sessions, select(func.count()).where(WebhookEvent.tenant_id == tenant_id))
    attempts = await _count(
        sessions,
        select(func.count())
        .select_from(WebhookAttempt)
        .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookEvent.tenant_id == tenant_id),
    )
    assert pulls >= 3 and events == 2 and attempts >= 2

    # Day 2 + 91: pull log, finished operations and delivered webhooks are past their periods;
    # the pending push's operation and every line stay, and the lines are still "delivered".
    t1 = NOW + 2 * DAY + 91 * DAY
    clock.freeze(t1)
    counts = await run_job(settings, sessions, "purge_retention")
    assert counts["idx_pulls"] >= pulls and counts["push_operations"] >= 2
    assert await _count(sessions, select(func.count()).where(IdxPull.account_pk == pk)) == 0
    async with sessions() as session:
        left = (
            await session.execute(
                select(PushOperation.status).where(PushOperation.account_pk == pk)
            )
        ).scalars()
        assert list(left) == ["Pending"], "only the pending push's operation stays"
        folded = (
            await session.execute(
                select(SentBatch.delivered_at)
                .where(SentBatch.account_pk == pk)
                .order_by(SentBatch.sent_at)
            )
        ).scalars()
        assert list(folded) == [NOW + 2 * HOUR, NOW + DAY + 2 * HOUR], "delivery folded in"
    assert (
        await _count(sessions, select(func.count()).where(WebhookEvent.tenant_id == tenant_id)) == 0
    )
    assert await _lines(sessions, feed) == {"a1", "a2", "b1", "c1"}
    r = await feed.api.call("GET", f"{feed.account_path}/bankTransactions")
    states = {t["id"]: t["status"] for t in r.json()["results"]}
    assert states == {"a1": "delivered", "a2": "delivered", "b1": "delivered", "c1": "pending"}

    logged = await _log(sessions, tenant, t1)
    assert logged[("pull_log", "idx_pulls")].rows == pulls
    assert logged[("pull_log", "idx_pulls")].retention_days == 90
    assert logged[("push_operations", "push_operations")].rows == 2
    assert logged[("webhooks", "webhook_events")].rows == 2
    assert logged[("webhooks", "webhook_attempts")].rows == attempts
    assert ("sent_lines", "bank_transactions") not in logged

    # Run again: nothing left to do, and the run says so.
    clock.freeze(t1 + HOUR)
    again = await run_job(settings, sessions, "purge_retention")
    assert again.get("idx_pulls", 0) == 0 and again.get("push_operations", 0) == 0
    assert set(await _log(sessions, tenant, t1 + HOUR)) == {("none_due", "*")}

    # 500 days after: batch A goes (delivered long ago); B is the account's latest, c1 pending.
    t2 = NOW + DAY + 2 * HOUR + 500 * DAY
    clock.freeze(t2)
    await run_job(settings, sessions, "purge_retention")
    assert await _lines(sessions, feed) == {"b1", "c1"}
    logged = await _log(sessions, tenant, t2)
    lines = logged[("sent_lines", "bank_transactions")]
    assert (lines.rows, lines.oldest, lines.newest) == (2, NOW + 2 * HOUR, NOW + 2 * HOUR)
    assert logged[("sent_lines", "sent_batches")].rows == 1

    # Seven years on, the audit policy destroys the destruction log's own old entries.
    t3 = t2 + timedelta(days=7 * 365 + 3)
    clock.freeze(t3)
    await run_job(settings, sessions, "purge_retention")
    audit = (await _log(sessions, tenant, t3))[("audit", "destruction_log")]
    assert audit.rows >= 4 and audit.newest is not None and audit.newest <= t2


async def test_a_tenant_override_applies_to_that_tenant_only(
    linkable: Linkable,
    tenant: TenantKeys,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    feed = await connect(linkable)
    r = await feed.api.call("PATCH", "/retention", {"pullLogDays": 5, "auditDays": 3000})
    assert r.status_code == 200, r.text
    assert r.json()["pullLogDays"] == 5 and r.json()["pushOperationsDays"] == 90
    assert sorted(r.json()["overridden"]) == ["auditDays", "pullLogDays"]
    bad = await feed.api.call("PATCH", "/retention", {"pullLogDays": 0})
    assert bad.status_code == 400, bad.text
    pk = uuid.UUID(feed.idx_account_id)
    assert await _count(sessions, select(func.count()).where(IdxPull.account_pk == pk)) == 1

    clock.freeze(NOW + 4 * DAY)
    await purge_tenant(sessions, uuid.UUID(tenant.id), settings)
    assert await _count(sessions, select(func.count()).where(IdxPull.account_pk == pk)) == 1
    clock.freeze(NOW + 6 * DAY)
    await purge_tenant(sessions, uuid.UUID(tenant.id), settings)
    assert await _count(sessions, select(func.count()).where(IdxPull.account_pk == pk)) == 0
    r = await feed.api.call("GET", "/retention/destructions")
    assert [(e["policy"], e["table"], e["rows"]) for e in r.json()["results"][:1]] == [
        ("pull_log", "idx_pulls", 1)
    ]
    back = await feed.api.call("PATCH", "/retention", {"pullLogDays": None})
    assert back.json()["pullLogDays"] == 90 and back.json()["overridden"] == ["auditDays"]
    # The deployment's defaults are settings; the tenant's override still wins over them.
    moved = settings.model_copy(update={"retention_pull_log_days": 7, "retention_audit_days": 9})
    async with sessions() as session:
        days = await effective_days(session, uuid.UUID(tenant.id), moved)
    assert (days["pull_log"], days["audit"], days["webhooks"]) == (7, 3000, 30)


async def test_purges_on_several_workers_beside_a_push_and_a_pull_all_succeed(
    linkable: Linkable,
    tenant: TenantKeys,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    feed = await connect(linkable)
    for n in range(6):
        clock.freeze(NOW + n * DAY)
        await feed.push([tx(f"w{n}", day(n))])
        clock.freeze(NOW + n * DAY + HOUR)
        await run_job(settings, sessions, "daily_send")
        clock.freeze(NOW + n * DAY + 2 * HOUR)
        assert (await feed.pull(day(n), day(n + 1))).status_code == 200
    pk = uuid.UUID(feed.idx_account_id)
    pulls = await _count(sessions, select(func.count()).where(IdxPull.account_pk == pk))
    later = NOW + 600 * DAY
    clock.freeze(later)
    tenant_id = uuid.UUID(tenant.id)
    push = feed.push([tx("late", (later.date()).isoformat())])
    pull = feed.pull()
    results = await asyncio.gather(
        purge_tenant(sessions, tenant_id, settings),
        purge_tenant(sessions, tenant_id, settings),
        push,
        pull,
    )
    assert results[2].status_code == 200, results[2].text
    assert results[3].status_code == 200, results[3].text
    # The two workers together destroyed each row once: the five old batches, and w5's too
    # when the pull beside them had already published "late" (then w5 is no longer the latest);
    # every pull but the one made beside them.
    purged = results[0].get("bank_transactions", 0) + results[1].get("bank_transactions", 0)
    assert results[0].get("idx_pulls", 0) + results[1].get("idx_pulls", 0) == pulls
    left = frozenset(await _lines(sessions, feed))
    assert (purged, left) in {(5, frozenset({"w5", "late"})), (6, frozenset({"late"}))}
    async with sessions() as session:
        logged = (
            await session.execute(
                select(func.sum(DestructionEntry.rows)).where(
                    DestructionEntry.tenant_id == tenant_id,
                    DestructionEntry.table_name == "bank_transactions",
                )
            )
        ).scalar_one()
    assert logged == purged


async def test_a_day_whose_certificate_is_not_final_keeps_its_lines(
    linkable: Linkable,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Day 0's line balances break (a gap): 500 days on, its batch is still there for whoever
    fixes or audits it, while the policy would have destroyed it."""
    feed = await connect(linkable)
    await _two_days(
        feed,
        settings,
        sessions,
        [
            tx("a1", day(0), amount="-10.00", balance="90.00"),
            tx("a2", day(0), amount="-10.00", balance="50.00"),  # 30.00 missing before it
        ],
    )
    r = await feed.api.call(
        "GET",
        f"{feed.link.connection_path}/connectionInfo/bankFeedAccounts/{feed.account_id}"
        f"/balanceCertificates/{day(0)}",
    )
    assert r.status_code == 200 and r.json()["status"] == "gap", r.text

    clock.freeze(NOW + DAY + 2 * HOUR + 500 * DAY)
    await run_job(settings, sessions, "purge_retention")
    assert await _lines(sessions, feed) == {"a1", "a2", "b1"}
