"""The SQL of balance certificates: an account's running state, the lines and bank figures of
the days a run recomputes (never the whole history), the pulls that delivered them, and the
certificates themselves. Callers hold the account's row lock (sends, pulls, re-serves, the job)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.tables import SourceAccount
from app.certificates.rules import Line
from app.certificates.tables import (
    BalanceCertificate,
    CertificateSettings,
    CertificateState,
    DailyBalance,
    DailyBalanceChange,
)
from app.idx.tables import IdxPull
from app.transactions.tables import BankTransaction


async def state(session: AsyncSession, account_pk: uuid.UUID) -> CertificateState | None:
    return await session.get(CertificateState, account_pk)


def add(session: AsyncSession, row: Any) -> None:
    session.add(row)


async def first_day(session: AsyncSession, account_pk: uuid.UUID) -> date | None:
    """The account's earliest day with a line or a bank figure (a first run starts there)."""
    lines = select(func.min(BankTransaction.cleared_on)).where(
        BankTransaction.account_pk == account_pk
    )
    figures = select(func.min(DailyBalance.day)).where(DailyBalance.account_pk == account_pk)
    found = [
        (await session.execute(lines)).scalar(),
        (await session.execute(figures)).scalar(),
    ]
    days = [d for d in found if d is not None]
    return min(days) if days else None


async def pending_from(session: AsyncSession, account_pk: uuid.UUID) -> date | None:
    """The earliest day with a line still pending (the pending index: a few rows)."""
    stmt = select(func.min(BankTransaction.cleared_on)).where(
        BankTransaction.account_pk == account_pk, BankTransaction.sent_at.is_(None)
    )
    return (await session.execute(stmt)).scalar()


async def sent_since(session: AsyncSession, account_pk: uuid.UUID, since: datetime) -> date | None:
    """The earliest day with a line sent (or re-served) at or after `since` (the pulls' index)."""
    stmt = select(func.min(BankTransaction.cleared_on)).where(
        BankTransaction.account_pk == account_pk, BankTransaction.sent_at >= since
    )
    return (await session.execute(stmt)).scalar()


async def lines_from(
    session: AsyncSession, account_pk: uuid.UUID, first: date
) -> list[tuple[Line, datetime | None, int]]:
    """The account's lines of `first` and after, by day then acceptance order: each with its
    sent_at and id (to be matched against the pulls)."""
    stmt = (
        select(
            BankTransaction.transaction_id,
            BankTransaction.cleared_on,
            BankTransaction.description,
            BankTransaction.amount,
            BankTransaction.balance,
            BankTransaction.sent_at,
            BankTransaction.id,
        )
        .where(BankTransaction.account_pk == account_pk, BankTransaction.cleared_on >= first)
        .order_by(BankTransaction.cleared_on, BankTransaction.id)
    )
    return [
        (Line(tid, on, text, amount, balance), sent_at, row_id)
        for tid, on, text, amount, balance, sent_at, row_id in (await session.execute(stmt)).all()
    ]


async def pulls_since(
    session: AsyncSession, account_pk: uuid.UUID, since: datetime
) -> list[tuple[datetime, datetime, int, datetime, int]]:
    """Successful answers that carried rows, since `since`: (pulled_at, first key, last key)."""
    stmt = (
        select(
            IdxPull.pulled_at,
            IdxPull.first_sent_at,
            IdxPull.first_id,
            IdxPull.last_sent_at,
            IdxPull.last_id,
        )
        .where(
            IdxPull.account_pk == account_pk,
            IdxPull.pulled_at >= since,
            IdxPull.status == 200,
            IdxPull.rows > 0,
        )
        .order_by(IdxPull.pulled_at)
    )
    return [tuple(r) for r in (await session.execute(stmt)).all()]  # type: ignore[misc]


async def figures_from(
    session: AsyncSession, account_pk: uuid.UUID, first: date
) -> dict[date, Decimal]:
    stmt = select(DailyBalance.day, DailyBalance.closing).where(
        DailyBalance.account_pk == account_pk, DailyBalance.day >= first
    )
    return {d: c for d, c in (await session.execute(stmt)).all()}


async def current_from(
    session: AsyncSession, account_pk: uuid.UUID, first: date
) -> dict[date, BalanceCertificate]:
    stmt = select(BalanceCertificate).where(
        BalanceCertificate.account_pk == account_pk,
        BalanceCertificate.is_current,
        BalanceCertificate.day >= first,
    )
    return {c.day: c for c in (await session.execute(stmt)).scalars()}


async def current_before(
    session: AsyncSession, account_pk: uuid.UUID, first: date
) -> BalanceCertificate | None:
    stmt = (
        select(BalanceCertificate)
        .where(
            BalanceCertificate.account_pk == account_pk,
            BalanceCertificate.is_current,
            BalanceCertificate.day < first,
        )
        .order_by(BalanceCertificate.day.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def claim_due(session: AsyncSession, after: uuid.UUID | None, limit: int) -> list[uuid.UUID]:
    """Accounts with something to certify, locked (FOR UPDATE SKIP LOCKED, as the daily send
    claims them): never certified but with lines or figures, marked dirty or waiting for
    delivery, or with lines pending or sent since their last run."""
    st = CertificateState
    has_lines = exists().where(BankTransaction.account_pk == SourceAccount.pk)
    has_figures = exists().where(DailyBalance.account_pk == SourceAccount.pk)
    pending = exists().where(
        BankTransaction.account_pk == SourceAccount.pk, BankTransaction.sent_at.is_(None)
    )
    sent = exists().where(
        BankTransaction.account_pk == SourceAccount.pk, BankTransaction.sent_at >= st.sent_through
    )
    stmt = (
        select(SourceAccount.pk)
        .outerjoin(st, st.account_pk == SourceAccount.pk)
        .where(
            or_(
                and_(st.account_pk.is_(None), or_(has_lines, has_figures)),
                st.dirty_from.is_not(None),
                st.waiting_from.is_not(None),
                pending,
                sent,
            )
        )
        .order_by(SourceAccount.pk)
        .limit(limit)
        .with_for_update(of=SourceAccount, skip_locked=True)
    )
    if after is not None:
        stmt = stmt.where(SourceAccount.pk > after)
    return list((await session.execute(stmt)).scalars())


async def page(
    session: AsyncSession,
    account_pk: uuid.UUID,
    first: date | None,
    last: date | None,
    offset: int,
    limit: int,
) -> tuple[list[BalanceCertificate], int]:
    conditions = [BalanceCertificate.account_pk == account_pk, BalanceCertificate.is_current]
    if first is not None:
        conditions.append(BalanceCertificate.day >= first)
    if last is not None:
        conditions.append(BalanceCertificate.day <= last)
    count = select(func.count()).select_from(BalanceCertificate).where(*conditions)
    total = int((await session.execute(count)).scalar_one())
    stmt = (
        select(BalanceCertificate)
        .where(*conditions)
        .order_by(BalanceCertificate.day)
        .offset(offset)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars()), total


async def first_gap(session: AsyncSession, account_pk: uuid.UUID) -> BalanceCertificate | None:
    stmt = (
        select(BalanceCertificate)
        .where(
            BalanceCertificate.account_pk == account_pk,
            BalanceCertificate.is_current,
            BalanceCertificate.status == "gap",
        )
        .order_by(BalanceCertificate.day)
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def latest_day(session: AsyncSession, account_pk: uuid.UUID) -> date | None:
    stmt = select(func.max(BalanceCertificate.day)).where(
        BalanceCertificate.account_pk == account_pk, BalanceCertificate.is_current
    )
    return (await session.execute(stmt)).scalar()


async def revisions(
    session: AsyncSession, account_pk: uuid.UUID, day: date | None = None
) -> list[BalanceCertificate]:
    """Every revision (of one day, or all), in chain order: what an export carries."""
    stmt = select(BalanceCertificate).where(BalanceCertificate.account_pk == account_pk)
    if day is not None:
        stmt = stmt.where(BalanceCertificate.day == day)
    return list((await session.execute(stmt.order_by(BalanceCertificate.seq))).scalars())


async def day_lines(
    session: AsyncSession, account_pk: uuid.UUID, day: date
) -> list[BankTransaction]:
    stmt = (
        select(BankTransaction)
        .where(BankTransaction.account_pk == account_pk, BankTransaction.cleared_on == day)
        .order_by(BankTransaction.id)
    )
    return list((await session.execute(stmt)).scalars())


async def figure(session: AsyncSession, account_pk: uuid.UUID, day: date) -> DailyBalance | None:
    return await session.get(DailyBalance, (account_pk, day))


async def audit_figure(session: AsyncSession, change: DailyBalanceChange) -> None:
    session.add(change)


async def mark_dirty(session: AsyncSession, account_pk: uuid.UUID, day: date) -> None:
    """A run must look at `day` again (no state yet: the first run starts at the beginning)."""
    await session.execute(
        update(CertificateState)
        .where(CertificateState.account_pk == account_pk)
        .values(
            dirty_from=func.coalesce(
                func.min(CertificateState.dirty_from, day)
                if session.get_bind().dialect.name == "sqlite"
                else func.least(CertificateState.dirty_from, day),
                day,
            )
        )
        .execution_options(synchronize_session=False)
    )


async def strict(session: AsyncSession, tenant_id: uuid.UUID) -> bool:
    found = await session.get(CertificateSettings, tenant_id)
    return bool(found and found.strict)


async def settings_row(session: AsyncSession, tenant_id: uuid.UUID) -> CertificateSettings | None:
    return await session.get(CertificateSettings, tenant_id)


async def last_line_balance(session: AsyncSession, account_pk: uuid.UUID) -> Decimal | None:
    """The balance after the account's latest line (null when that line carried none)."""
    stmt = (
        select(BankTransaction.balance)
        .where(BankTransaction.account_pk == account_pk)
        .order_by(BankTransaction.cleared_on.desc(), BankTransaction.id.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar()


async def gap_accounts(session: AsyncSession, account_pks: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    stmt = select(CertificateState.account_pk).where(
        CertificateState.account_pk.in_(account_pks), CertificateState.gaps > 0
    )
    return set((await session.execute(stmt)).scalars())


async def totals(session: AsyncSession) -> tuple[int, int, date | None]:
    """(accounts with a gap, gap days, the oldest day not certified) across the service."""
    stmt = select(
        func.count().filter(CertificateState.gaps > 0),
        func.coalesce(func.sum(CertificateState.gaps), 0),
        func.min(CertificateState.oldest_uncertified),
    )
    accounts, gaps, oldest = (await session.execute(stmt)).one()
    return int(accounts), int(gaps), oldest


async def undigested(session: AsyncSession, limit: int) -> list[tuple[BalanceCertificate, Any]]:
    """Certified days no digest has carried yet, with their account's connection."""
    stmt = (
        select(BalanceCertificate, SourceAccount)
        .join(SourceAccount, SourceAccount.pk == BalanceCertificate.account_pk)
        .where(
            BalanceCertificate.is_current,
            BalanceCertificate.certified_at.is_not(None),
            BalanceCertificate.digested_at.is_(None),
        )
        .order_by(SourceAccount.connection_id, BalanceCertificate.day)
        .limit(limit)
    )
    return [(c, a) for c, a in (await session.execute(stmt)).all()]
