"""All SQL of the pull log and the re-serve audit."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.idx.tables import IdxPull, Reserve
from app.transactions import send_repository
from app.transactions.tables import BankTransaction


async def record_pull(session: AsyncSession, values: dict[str, Any]) -> None:
    """One row per answer: the whole cost of a delivery receipt on the IDX hot path."""
    await session.execute(insert(IdxPull), [values])


async def last_pulls(session: AsyncSession, account_pk: uuid.UUID, limit: int) -> list[IdxPull]:
    stmt = (
        select(IdxPull)
        .where(IdxPull.account_pk == account_pk)
        .order_by(IdxPull.pulled_at.desc(), IdxPull.id.desc())
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def reserve(
    session: AsyncSession, account_pk: uuid.UUID, first: date, last: date, at: datetime
) -> int:
    """Sent transactions cleared in [first, last] are published again: modifiedDate = at."""
    moved = and_(
        BankTransaction.account_pk == account_pk,
        BankTransaction.sent_at.is_not(None),
        BankTransaction.cleared_on >= first,
        BankTransaction.cleared_on <= last,
    )
    await send_repository.move_to_batch(session, account_pk, moved, at)
    result = await session.execute(
        update(BankTransaction)
        .where(moved)
        .values(sent_at=at)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def add_reserve(session: AsyncSession, row: Reserve) -> None:
    session.add(row)
    await session.flush()


async def reserves_of(session: AsyncSession, account_pk: uuid.UUID, limit: int) -> list[Reserve]:
    stmt = (
        select(Reserve)
        .where(Reserve.account_pk == account_pk)
        .order_by(Reserve.requested_at.desc())
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def lags_since(
    session: AsyncSession, tenant_id: uuid.UUID, environment: str, since: datetime
) -> list[tuple[datetime, int]]:
    """(pulled_at, lag seconds) of the tenant's answered first pages since `since` (one a
    pull), for the lag chart."""
    stmt = (
        select(IdxPull.pulled_at, IdxPull.lag_seconds)
        .where(
            IdxPull.tenant_id == tenant_id,
            IdxPull.environment == environment,
            IdxPull.pulled_at >= since,
            IdxPull.page_number == 1,
            IdxPull.lag_seconds.is_not(None),
        )
        .order_by(IdxPull.pulled_at)
    )
    return [(at, int(lag or 0)) for at, lag in (await session.execute(stmt)).all()]


async def count_reservable(
    session: AsyncSession, account_pk: uuid.UUID, first: date, last: date
) -> int:
    stmt = (
        select(func.count())
        .select_from(BankTransaction)
        .where(
            BankTransaction.account_pk == account_pk,
            BankTransaction.sent_at.is_not(None),
            BankTransaction.cleared_on >= first,
            BankTransaction.cleared_on <= last,
        )
    )
    return int((await session.execute(stmt)).scalar_one())
