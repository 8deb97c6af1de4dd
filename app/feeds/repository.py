"""All SQL of feed health: the pull log the IDX writes (one row per answer, `idx/tables.py`)
read back, the accounts at risk, and the re-serve audit.

The IDX only writes the log (`idx/repository.record_pull`, on its hot path); every read of it
is here. Reads are scoped by the tenant and environment, or by an account the caller found
through its own scope.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import and_, case, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.tables import SourceAccount
from app.companies.tables import Company
from app.connections.tables import Connection
from app.idx.tables import Reserve
from app.transactions.tables import IdxPull


async def last_pulls(session: AsyncSession, account_pk: uuid.UUID, limit: int) -> list[IdxPull]:
    stmt = (
        select(IdxPull)
        .where(IdxPull.account_pk == account_pk)
        .order_by(IdxPull.pulled_at.desc(), IdxPull.id.desc())
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


async def accounts_at_risk(
    session: AsyncSession, tenant_id: uuid.UUID, environment: str, limit: int
) -> list[tuple[SourceAccount, Company]]:
    """Accounts QuickBooks pulls (or did), at risk first: stale, then disconnected, then by
    oldest pull."""
    rank = case(
        (and_(SourceAccount.status == "connected", SourceAccount.stale_since.is_not(None)), 0),
        (SourceAccount.status == "disconnected", 1),
        else_=2,
    )
    stmt = (
        select(SourceAccount, Company)
        .join(Connection, Connection.id == SourceAccount.connection_id)
        .join(Company, Company.id == Connection.company_id)
        .where(
            Company.tenant_id == tenant_id,
            Company.environment == environment,
            SourceAccount.last_queried_at.is_not(None),
        )
        .order_by(rank, SourceAccount.last_queried_at, SourceAccount.pk)
        .limit(limit)
    )
    return [(a, c) for a, c in (await session.execute(stmt)).all()]


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
