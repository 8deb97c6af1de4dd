"""All SQL of retention: the tenants' policies, the purges the policies call for (each a bounded
batch in the caller's short transaction, its rows taken with SKIP LOCKED on PostgreSQL so several
workers share the work), and the destruction and access logs."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, func, insert, not_, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.tables import AccessEntry
from app.accounts.tables import SourceAccount
from app.certificates.tables import BalanceCertificate
from app.companies.tables import Company
from app.connections.tables import Connection
from app.idx.tables import Reserve
from app.retention.tables import DestructionEntry, RetentionPolicy
from app.tenants.tables import Tenant
from app.transactions.delivery import delivered_at
from app.transactions.tables import BankTransaction, IdxPull, PushOperation, SentBatch
from app.webhooks.tables import WebhookAttempt, WebhookDelivery, WebhookEvent


@dataclass
class Purged:
    """What one batch destroyed of one table: rows, and the oldest and newest of their dates."""

    rows: int = 0
    oldest: datetime | None = None
    newest: datetime | None = None

    def add(self, rows: int, oldest: datetime | None, newest: datetime | None) -> None:
        self.rows += rows
        if oldest is not None and (self.oldest is None or oldest < self.oldest):
            self.oldest = oldest
        if newest is not None and (self.newest is None or newest > self.newest):
            self.newest = newest


async def tenant_ids(session: AsyncSession) -> list[uuid.UUID]:
    return list((await session.execute(select(Tenant.id).order_by(Tenant.id))).scalars())


async def policy(session: AsyncSession, tenant_id: uuid.UUID) -> RetentionPolicy | None:
    return await session.get(RetentionPolicy, tenant_id)


async def save_policy(session: AsyncSession, row: RetentionPolicy) -> None:
    await session.merge(row)
    await session.flush()


def _accounts_of(tenant_id: uuid.UUID) -> Any:
    return (
        select(SourceAccount.pk)
        .join(Connection, Connection.id == SourceAccount.connection_id)
        .join(Company, Company.id == Connection.company_id)
        .where(Company.tenant_id == tenant_id)
    )


def _span(values: Sequence[datetime | None]) -> tuple[datetime | None, datetime | None]:
    known = [v for v in values if v is not None]
    return (min(known), max(known)) if known else (None, None)


async def fold_deliveries(
    session: AsyncSession, tenant_id: uuid.UUID, sent_before: datetime, after: Any, limit: int
) -> tuple[int, Any]:
    """Stamp `delivered_at` on the tenant's undelivered batches sent before `sent_before` that
    the pull log shows fully fetched, before the pull log is purged. Walks the batches in
    (account, sent_at) order from `after`; answers (batches looked at, the last key)."""
    stmt = (
        select(SentBatch.account_pk, SentBatch.sent_at, SentBatch.row_count)
        .where(
            SentBatch.account_pk.in_(_accounts_of(tenant_id)),
            SentBatch.delivered_at.is_(None),
            SentBatch.sent_at < sent_before,
        )
        .order_by(SentBatch.account_pk, SentBatch.sent_at)
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(tuple_(SentBatch.account_pk, SentBatch.sent_at) > tuple_(*after))
    batches = (await session.execute(stmt)).all()
    if not batches:
        return 0, None
    delivered = delivered_at()
    counts = (
        select(
            BankTransaction.account_pk,
            BankTransaction.sent_at,
            func.count(delivered),
            func.max(delivered),
        )
        .where(
            tuple_(BankTransaction.account_pk, BankTransaction.sent_at).in_(
                [(b.account_pk, b.sent_at) for b in batches]
            )
        )
        .group_by(BankTransaction.account_pk, BankTransaction.sent_at)
    )
    size = {(b.account_pk, b.sent_at): b.row_count for b in batches}
    for account_pk, sent_at, done, last in (await session.execute(counts)).all():
        if last is not None and done == size.get((account_pk, sent_at)):
            await session.execute(
                update(SentBatch)
                .where(SentBatch.account_pk == account_pk, SentBatch.sent_at == sent_at)
                .values(delivered_at=last)
            )
    last_key = (batches[-1].account_pk, batches[-1].sent_at)
    return len(batches), last_key


async def purge_sent_lines(
    session: AsyncSession, tenant_id: uuid.UUID, cutoff: datetime, limit: int
) -> dict[str, Purged]:
    """Whole batches delivered before `cutoff`, never an account's latest batch (its latest
    line), never a pending line (pending lines are in no batch), never a batch with a line of a
    day whose balance certificate is not final (`pendingDelivery` or `gap`: the lines are still
    what an auditor or a fix needs): their lines, then the batch rows, so the IDX page
    arithmetic over the batches left stays exact."""
    newer = SentBatch.__table__.alias("newer")
    unsettled = (
        exists()
        .where(
            BankTransaction.account_pk == SentBatch.account_pk,
            BankTransaction.sent_at == SentBatch.sent_at,
            BalanceCertificate.account_pk == BankTransaction.account_pk,
            BalanceCertificate.day == BankTransaction.cleared_on,
            BalanceCertificate.is_current,
            BalanceCertificate.status.in_(("pendingDelivery", "gap")),
        )
        .correlate(SentBatch)
    )
    stmt = (
        select(SentBatch.account_pk, SentBatch.sent_at, SentBatch.row_count, SentBatch.delivered_at)
        .where(
            SentBatch.account_pk.in_(_accounts_of(tenant_id)),
            SentBatch.delivered_at < cutoff,
            exists().where(
                newer.c.account_pk == SentBatch.account_pk, newer.c.sent_at > SentBatch.sent_at
            ),
            not_(unsettled),
        )
        .order_by(SentBatch.delivered_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    batches = (await session.execute(stmt)).all()
    out = {"bank_transactions": Purged(), "sent_batches": Purged()}
    if not batches:
        return out
    keys = [(b.account_pk, b.sent_at) for b in batches]
    lines = await session.execute(
        delete(BankTransaction).where(
            tuple_(BankTransaction.account_pk, BankTransaction.sent_at).in_(keys)
        )
    )
    await session.execute(
        delete(SentBatch).where(tuple_(SentBatch.account_pk, SentBatch.sent_at).in_(keys))
    )
    oldest, newest = _span([b.delivered_at for b in batches])
    out["bank_transactions"].add(int(lines.rowcount or 0), oldest, newest)  # type: ignore[attr-defined]
    out["sent_batches"].add(len(batches), oldest, newest)
    return out


async def _delete_taken(
    session: AsyncSession, table: Any, key: Any, when: Any, conditions: list[Any], limit: int
) -> Purged:
    """Take up to `limit` rows (SKIP LOCKED), delete them, answer their count and date span."""
    taken = (
        await session.execute(
            select(key, when).where(*conditions).limit(limit).with_for_update(skip_locked=True)
        )
    ).all()
    out = Purged()
    if taken:
        await session.execute(delete(table).where(key.in_([k for k, _ in taken])))
        out.add(len(taken), *_span([w for _, w in taken]))
    return out


async def purge_pull_log(
    session: AsyncSession, tenant_id: uuid.UUID, cutoff: datetime, limit: int
) -> dict[str, Purged]:
    conditions = [IdxPull.tenant_id == tenant_id, IdxPull.pulled_at < cutoff]
    return {
        "idx_pulls": await _delete_taken(
            session, IdxPull, IdxPull.id, IdxPull.pulled_at, conditions, limit
        )
    }


async def purge_push_operations(
    session: AsyncSession, tenant_id: uuid.UUID, cutoff: datetime, limit: int
) -> dict[str, Purged]:
    """Finished operations (never a pending one) that ended before `cutoff`."""
    ended = func.coalesce(PushOperation.completed_at, PushOperation.requested_at)
    companies = select(Company.id).where(Company.tenant_id == tenant_id)
    conditions = [
        PushOperation.company_id.in_(companies),
        PushOperation.status != "Pending",
        ended < cutoff,
    ]
    return {
        "push_operations": await _delete_taken(
            session, PushOperation, PushOperation.key, ended, conditions, limit
        )
    }


async def purge_webhooks(
    session: AsyncSession, tenant_id: uuid.UUID, cutoff: datetime, limit: int
) -> dict[str, Purged]:
    """Events whose every delivery ended before `cutoff` (none still pending), with their
    deliveries and attempts."""
    open_or_recent = exists().where(
        WebhookDelivery.event_id == WebhookEvent.id,
        or_(
            WebhookDelivery.status == "pending",
            WebhookDelivery.completed_at.is_(None),
            WebhookDelivery.completed_at >= cutoff,
        ),
    )
    taken = (
        await session.execute(
            select(WebhookEvent.id, WebhookEvent.created_at)
            .where(
                WebhookEvent.tenant_id == tenant_id,
                WebhookEvent.created_at < cutoff,
                not_(open_or_recent),
            )
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    out = {"webhook_events": Purged(), "webhook_deliveries": Purged(), "webhook_attempts": Purged()}
    if not taken:
        return out
    ids = [i for i, _ in taken]
    span = _span([w for _, w in taken])
    deliveries = select(WebhookDelivery.id).where(WebhookDelivery.event_id.in_(ids))
    attempts = select(func.count()).where(WebhookAttempt.delivery_id.in_(deliveries))
    n_attempts = int((await session.execute(attempts)).scalar_one())
    counted = select(func.count()).select_from(deliveries.subquery())
    n_deliveries = int((await session.execute(counted)).scalar_one())
    await session.execute(delete(WebhookEvent).where(WebhookEvent.id.in_(ids)))
    out["webhook_events"].add(len(ids), *span)
    out["webhook_deliveries"].add(n_deliveries, *span)
    out["webhook_attempts"].add(n_attempts, *span)
    return out


async def purge_audit(
    session: AsyncSession, tenant_id: uuid.UUID, cutoff: datetime, limit: int
) -> dict[str, Purged]:
    return {
        "reserves": await _delete_taken(
            session,
            Reserve,
            Reserve.id,
            Reserve.requested_at,
            [Reserve.tenant_id == tenant_id, Reserve.requested_at < cutoff],
            limit,
        ),
        "access_log": await _delete_taken(
            session,
            AccessEntry,
            AccessEntry.id,
            AccessEntry.at,
            [AccessEntry.tenant_id == tenant_id, AccessEntry.at < cutoff],
            limit,
        ),
        "destruction_log": await _delete_taken(
            session,
            DestructionEntry,
            DestructionEntry.id,
            DestructionEntry.at,
            [DestructionEntry.tenant_id == tenant_id, DestructionEntry.at < cutoff],
            limit,
        ),
    }


Purge = Callable[[AsyncSession, uuid.UUID, datetime, int], Awaitable[dict[str, Purged]]]
# Each policy's purge, keyed by the policy's name; the tables each returns are the ones
# app/retention/rules.py files under that policy (tests/test_retention_rules.py checks both).
PURGES: dict[str, Purge] = {
    "sent_lines": purge_sent_lines,
    "pull_log": purge_pull_log,
    "push_operations": purge_push_operations,
    "webhooks": purge_webhooks,
    "audit": purge_audit,
}


async def log_destruction(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(DestructionEntry), rows)


async def destruction_log(
    session: AsyncSession, tenant_id: uuid.UUID, limit: int = 200
) -> list[DestructionEntry]:
    stmt = (
        select(DestructionEntry)
        .where(DestructionEntry.tenant_id == tenant_id)
        .order_by(DestructionEntry.at.desc(), DestructionEntry.id.desc())
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())
