"""The SQL of balance certificates: an account's running state, the lines and bank figures of
the days a run recomputes (never the whole history), the pulls that delivered them, and the
certificates themselves. Callers hold the account's row lock (sends, pulls, re-serves, the job)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.tables import SourceAccount
from app.certificates.rules import Line
from app.certificates.tables import (
    BalanceCertificate,
    BalanceDigest,
    CertificateState,
    DailyBalance,
    DailyBalanceChange,
)
from app.transactions.tables import BankTransaction, IdxPull


def add(session: AsyncSession, row: Any) -> None:
    session.add(row)


async def insert_certificates(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """New revisions, in one INSERT (executemany); (account, day, revision) and (account,
    sequence) are unique: a revision issued twice fails the transaction, never lands twice."""
    if rows:
        await session.execute(insert(BalanceCertificate), list(rows))


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


# ---- a chunk of accounts at once: a few statements per chunk, not per account ----------------

CARRY_DAYS = 7  # the day before a run's first is looked for this far back in the chunk's read


def _per_account(column: Any, day_column: Any, starts: dict[uuid.UUID, Any]) -> Any:
    return or_(*(and_(column == pk, day_column >= start) for pk, start in starts.items()))


async def states(
    session: AsyncSession, account_pks: Sequence[uuid.UUID]
) -> dict[uuid.UUID, CertificateState]:
    stmt = select(CertificateState).where(CertificateState.account_pk.in_(account_pks))
    return {s.account_pk: s for s in (await session.execute(stmt)).scalars()}


async def first_days(
    session: AsyncSession, account_pks: Sequence[uuid.UUID]
) -> dict[uuid.UUID, date]:
    """Each account's earliest day with a line or a bank figure (where a first run starts)."""
    out: dict[uuid.UUID, date] = {}
    for table, day in (
        (BankTransaction, BankTransaction.cleared_on),
        (DailyBalance, DailyBalance.day),
    ):
        stmt = (
            select(table.account_pk, func.min(day))
            .where(table.account_pk.in_(account_pks))
            .group_by(table.account_pk)
        )
        for pk, first in (await session.execute(stmt)).all():
            out[pk] = min(first, out.get(pk, first))
    return out


async def touched_from(
    session: AsyncSession, since: dict[uuid.UUID, datetime]
) -> dict[uuid.UUID, date]:
    """Each account's earliest day with a line pending (the pending index) or sent since its
    last run (the pulls' index)."""
    out: dict[uuid.UUID, date] = {}
    pending = (
        select(BankTransaction.account_pk, func.min(BankTransaction.cleared_on))
        .where(BankTransaction.account_pk.in_(list(since)), BankTransaction.sent_at.is_(None))
        .group_by(BankTransaction.account_pk)
    )
    sent = (
        select(BankTransaction.account_pk, func.min(BankTransaction.cleared_on))
        .where(_per_account(BankTransaction.account_pk, BankTransaction.sent_at, since))
        .group_by(BankTransaction.account_pk)
    )
    for stmt in (pending, sent):
        for pk, first in (await session.execute(stmt)).all():
            out[pk] = min(first, out.get(pk, first))
    return out


async def chunk_lines(
    session: AsyncSession, starts: dict[uuid.UUID, date]
) -> dict[uuid.UUID, list[tuple[Line, datetime | None, int]]]:
    stmt = (
        select(
            BankTransaction.account_pk,
            BankTransaction.transaction_id,
            BankTransaction.cleared_on,
            BankTransaction.description,
            BankTransaction.amount,
            BankTransaction.balance,
            BankTransaction.sent_at,
            BankTransaction.id,
        )
        .where(_per_account(BankTransaction.account_pk, BankTransaction.cleared_on, starts))
        .order_by(BankTransaction.account_pk, BankTransaction.cleared_on, BankTransaction.id)
    )
    out: dict[uuid.UUID, list[tuple[Line, datetime | None, int]]] = {pk: [] for pk in starts}
    for pk, tid, on, text, amount, balance, sent_at, row_id in (await session.execute(stmt)).all():
        out[pk].append((Line(tid, on, text, amount, balance), sent_at, row_id))
    return out


async def chunk_pulls(
    session: AsyncSession, since: dict[uuid.UUID, datetime]
) -> dict[uuid.UUID, list[tuple[datetime, datetime, int, datetime, int]]]:
    out: dict[uuid.UUID, list[tuple[datetime, datetime, int, datetime, int]]] = {
        pk: [] for pk in since
    }
    if not since:
        return out
    stmt = (
        select(
            IdxPull.account_pk,
            IdxPull.pulled_at,
            IdxPull.first_sent_at,
            IdxPull.first_id,
            IdxPull.last_sent_at,
            IdxPull.last_id,
        )
        .where(
            _per_account(IdxPull.account_pk, IdxPull.pulled_at, since),
            IdxPull.status == 200,
            IdxPull.rows > 0,
        )
        .order_by(IdxPull.account_pk, IdxPull.pulled_at)
    )
    for pk, *pull in (await session.execute(stmt)).all():
        out[pk].append(tuple(pull))  # type: ignore[arg-type]
    return out


async def chunk_figures(
    session: AsyncSession, starts: dict[uuid.UUID, date]
) -> dict[uuid.UUID, dict[date, Decimal]]:
    stmt = select(DailyBalance.account_pk, DailyBalance.day, DailyBalance.closing).where(
        _per_account(DailyBalance.account_pk, DailyBalance.day, starts)
    )
    out: dict[uuid.UUID, dict[date, Decimal]] = {pk: {} for pk in starts}
    for pk, day, closing in (await session.execute(stmt)).all():
        out[pk][day] = closing
    return out


async def chunk_current(
    session: AsyncSession, starts: dict[uuid.UUID, date]
) -> dict[uuid.UUID, list[BalanceCertificate]]:
    """Current certificates from CARRY_DAYS before each account's start: the day before the
    start is nearly always among them (else `current_before` finds it)."""
    early = {pk: start - timedelta(days=CARRY_DAYS) for pk, start in starts.items()}
    stmt = (
        select(BalanceCertificate)
        .where(
            BalanceCertificate.is_current,
            _per_account(BalanceCertificate.account_pk, BalanceCertificate.day, early),
        )
        .order_by(BalanceCertificate.account_pk, BalanceCertificate.day)
    )
    out: dict[uuid.UUID, list[BalanceCertificate]] = {pk: [] for pk in starts}
    for row in (await session.execute(stmt)).scalars():
        out[row.account_pk].append(row)
    return out


async def claim_digest(session: AsyncSession, connection_id: uuid.UUID, today: date) -> bool:
    """Today's digest of the connection, claimed in one statement: true for the one caller that
    moved (or made) its `sent_on` to today. A second worker waits on the first's row and then
    finds it claimed, so two workers never announce the same connection on the same day."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(BalanceDigest)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(BalanceDigest)
    stmt = (
        stmt.values(connection_id=connection_id, sent_on=today)
        .on_conflict_do_update(
            index_elements=[BalanceDigest.connection_id],
            set_={"sent_on": today},
            where=BalanceDigest.sent_on < today,
        )
        .returning(BalanceDigest.connection_id)
    )
    return (await session.execute(stmt)).first() is not None
