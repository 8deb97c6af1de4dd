"""The portal's read model: the SQL of the sync-status pages (`portal/status.py`), read-only.

Why the portal keeps SQL of its own: its pages show aggregates across domains that no domain
answers and that calls through their services would turn into one query per row: companies
with their newest connection's status and their accounts and pending lines counted; accounts
with pending and sent counts; an account found by its key within a company; the pushes a
company had refused; transactions accepted and sent per day. What a domain already answers
(a company in the caller's scope, its connections, push operations, an account's transactions
with their delivery) the portal asks that domain's service for; nothing here repeats a domain
repository's query. Every read is scoped by the signed-in user's tenant and environment in the
query itself, or by a company found in that scope.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, and_, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from app.accounts.tables import SourceAccount
from app.companies.tables import Company
from app.connections.tables import Connection
from app.transactions.tables import BankTransaction, PushRejection


def _company_scope(tenant_id: uuid.UUID, environment: str) -> Any:
    return and_(Company.tenant_id == tenant_id, Company.environment == environment)


async def companies(
    session: AsyncSession, tenant_id: uuid.UUID, environment: str, status: str | None, limit: int
) -> list[tuple[Company, str | None, int, int]]:
    """Companies, newest first, with their newest connection's status and account/pending
    counts."""
    newest = (
        select(Connection.status)
        .where(Connection.company_id == Company.id)
        .order_by(Connection.created_at.desc(), Connection.id.desc())
        .limit(1)
        .correlate(Company)
        .scalar_subquery()
    )
    accounts = (
        select(
            Connection.company_id.label("company_id"),
            func.count(SourceAccount.pk).label("accounts"),
        )
        .join(SourceAccount, SourceAccount.connection_id == Connection.id)
        .group_by(Connection.company_id)
        .subquery()
    )
    pending = (
        select(Connection.company_id.label("company_id"), func.count().label("pending"))
        .join(SourceAccount, SourceAccount.connection_id == Connection.id)
        .join(BankTransaction, BankTransaction.account_pk == SourceAccount.pk)
        .where(BankTransaction.sent_at.is_(None))
        .group_by(Connection.company_id)
        .subquery()
    )
    stmt = (
        select(
            Company,
            newest,
            func.coalesce(accounts.c.accounts, 0),
            func.coalesce(pending.c.pending, 0),
        )
        .outerjoin(accounts, accounts.c.company_id == Company.id)
        .outerjoin(pending, pending.c.company_id == Company.id)
        .where(_company_scope(tenant_id, environment))
        .order_by(Company.created_at.desc(), Company.id)
        .limit(limit)
    )
    if status == "none":
        stmt = stmt.where(newest.is_(None))
    elif status:
        stmt = stmt.where(newest == status)
    return [(r[0], r[1], int(r[2]), int(r[3])) for r in (await session.execute(stmt)).all()]


async def accounts_with_counts(
    session: AsyncSession, connection_ids: Sequence[uuid.UUID], status: str | None
) -> list[tuple[SourceAccount, int, int]]:
    """Source accounts of these connections with their pending and sent transaction counts
    (each counted on its own partial index: pending rows, sent rows)."""
    if not connection_ids:
        return []

    def counted(state: ColumnElement[bool]) -> Any:
        mine = BankTransaction.account_pk == SourceAccount.pk
        return select(func.count()).where(mine, state).correlate(SourceAccount).scalar_subquery()

    stmt = (
        select(
            SourceAccount,
            counted(BankTransaction.sent_at.is_(None)),
            counted(BankTransaction.sent_at.is_not(None)),
        )
        .where(SourceAccount.connection_id.in_(connection_ids))
        .order_by(SourceAccount.created_at, SourceAccount.account_id)
    )
    if status:
        stmt = stmt.where(SourceAccount.status == status)
    return [(r[0], int(r[1]), int(r[2])) for r in (await session.execute(stmt)).all()]


async def account(
    session: AsyncSession, company_id: uuid.UUID, account_pk: uuid.UUID
) -> tuple[SourceAccount, Connection] | None:
    stmt = (
        select(SourceAccount, Connection)
        .join(Connection, Connection.id == SourceAccount.connection_id)
        .where(SourceAccount.pk == account_pk, Connection.company_id == company_id)
    )
    row = (await session.execute(stmt)).one_or_none()
    return (row[0], row[1]) if row else None


async def rejections(
    session: AsyncSession, company_id: uuid.UUID, limit: int
) -> list[PushRejection]:
    stmt = (
        select(PushRejection)
        .where(PushRejection.company_id == company_id)
        .order_by(PushRejection.requested_at.desc(), PushRejection.id)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def daily_counts(
    session: AsyncSession, account_pk: uuid.UUID, since: datetime
) -> tuple[dict[date, int], dict[date, int]]:
    """Transactions accepted and sent per UTC day since `since`, for the account's chart."""
    found: list[dict[date, int]] = []
    sqlite = session.get_bind().dialect.name == "sqlite"
    for column in (BankTransaction.accepted_at, BankTransaction.sent_at):
        # The UTC day whatever the database session's TimeZone (SQLite keeps UTC text).
        day = func.date(column) if sqlite else cast(func.timezone("UTC", column), Date)
        stmt = (
            select(day, func.count())
            .where(BankTransaction.account_pk == account_pk, column >= since)
            .group_by(day)
        )
        rows = (await session.execute(stmt)).all()
        found.append({_as_date(d): int(n) for d, n in rows})
    return found[0], found[1]


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)
