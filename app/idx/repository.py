"""All SQL of the IDX API: what QuickBooks reads and changes, scoped by what its credential
grants (an IdxPrincipal: one connection of one tenant), then the pull log and the re-serve audit.

The pages of transactions themselves are read by app/idx/paging.py through
transactions/send_repository.py (the same batches a send writes).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, bindparam, case, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import repository as accounts_repo
from app.accounts.tables import SourceAccount
from app.companies.tables import Company
from app.companies.zone import ZONE_OF
from app.connections.tables import Connection
from app.db import uuid_param
from app.idx.tables import IdxPull, Reserve
from app.kit.principal import IdxPrincipal
from app.tenants.tables import Tenant
from app.transactions import send_repository
from app.transactions.tables import BankTransaction


async def accounts_page(
    session: AsyncSession, principal: IdxPrincipal, offset: int, limit: int
) -> tuple[list[SourceAccount], int]:
    """A page of the connection's accounts, as QuickBooks lists them."""
    where = SourceAccount.connection_id == principal.connection_id
    total = (
        await session.execute(select(func.count()).select_from(SourceAccount).where(where))
    ).scalar_one()
    stmt = (
        select(SourceAccount)
        .where(where)
        .order_by(SourceAccount.created_at, SourceAccount.account_id)
        .offset(offset)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars()), int(total)


async def published_balances(
    session: AsyncSession, pks: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[Decimal, date]]:
    """Per account, the balance of its latest sent line that carried one (in the order the lines
    were accepted, so a re-serve of old lines does not bring an old balance back) and that line's
    date. Lines still pending never count: QuickBooks cannot see them yet."""
    if not pks:
        return {}
    t = BankTransaction
    latest = (
        select(func.max(t.id))
        .where(t.account_pk == SourceAccount.pk, t.balance.is_not(None), t.sent_at.is_not(None))
        .scalar_subquery()
    )
    ids = select(latest).where(SourceAccount.pk.in_(pks))
    stmt = select(t.account_pk, t.balance, t.cleared_on).where(t.id.in_(ids))
    return {
        pk: (balance, on)
        for pk, balance, on in (await session.execute(stmt)).all()
        if balance is not None
    }


async def mark_listed(session: AsyncSession, pks: Sequence[uuid.UUID], at: datetime) -> None:
    """Intuit listed these accounts: remember when, and pending ones become connecting."""
    if not pks:
        return
    await session.execute(
        update(SourceAccount)
        .where(SourceAccount.pk.in_(pks))
        .values(
            last_listed_at=at,
            status=case(
                (SourceAccount.status == "pending", "connecting"), else_=SourceAccount.status
            ),
        )
    )


async def account_for_update(
    session: AsyncSession, principal: IdxPrincipal, pk: uuid.UUID
) -> SourceAccount | None:
    """An account of the connection, locked for the rest of the pull's transaction."""
    return await accounts_repo.by_pk(session, principal.connection_id, pk, for_update=True)


# The zone of the connection's company (app/companies/zone.py), read once per account (its
# first query fixes its feedStartDate): built once.
_ZONE = (
    select(ZONE_OF)
    .select_from(Connection)
    .join(Company, Company.id == Connection.company_id)
    .join(Tenant, Tenant.id == Company.tenant_id)
    .where(
        Connection.id == uuid_param("connection_id"),
        Company.tenant_id == uuid_param("tenant_id"),
        Company.environment == bindparam("environment"),
    )
)


async def company_zone(session: AsyncSession, principal: IdxPrincipal) -> str | None:
    params = {
        "connection_id": principal.connection_id,
        "tenant_id": principal.tenant_id,
        "environment": principal.environment,
    }
    return (await session.execute(_ZONE, params)).scalar_one_or_none()


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
    """Sent transactions cleared in [first, last] are published again: modifiedDate = at. The
    caller holds the account's lock (as a send does), so the two never number a batch at once."""
    moved = and_(
        BankTransaction.account_pk == account_pk,
        BankTransaction.sent_at.is_not(None),
        BankTransaction.cleared_on >= first,
        BankTransaction.cleared_on <= last,
    )
    return await send_repository.move_to_batch(session, account_pk, moved, at)


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
