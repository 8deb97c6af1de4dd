"""All SQL of the portal: staff users, their sessions, and the read-only views of the sync.

Every read takes the tenant and environment of the signed-in user and filters by them in the
query itself, so a page cannot show another tenant's row by forgetting a check.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, and_, case, cast, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from app.accounts.tables import SourceAccount
from app.companies.tables import Company
from app.connections.tables import Connection
from app.kit import scope
from app.portal.tables import PortalSession, PortalUser
from app.tenants.tables import Tenant
from app.transactions.tables import BankTransaction, PushOperation, PushRejection


async def add(session: AsyncSession, row: object) -> None:
    session.add(row)
    await session.flush()


async def user_by_email(session: AsyncSession, email: str) -> PortalUser | None:
    stmt = select(PortalUser).where(PortalUser.email == email).with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def password_of(session: AsyncSession, email: str) -> tuple[uuid.UUID, str] | None:
    """The user's id and password hash, read without a lock: the check runs after the commit."""
    stmt = select(PortalUser.id, PortalUser.password_hash).where(PortalUser.email == email)
    row = (await session.execute(stmt)).one_or_none()
    return (row[0], row[1]) if row else None


async def user_by_id(session: AsyncSession, user_id: uuid.UUID) -> PortalUser | None:
    return await session.get(PortalUser, user_id)


async def users_of(session: AsyncSession, tenant_id: uuid.UUID) -> list[PortalUser]:
    stmt = select(PortalUser).where(PortalUser.tenant_id == tenant_id).order_by(PortalUser.email)
    return list((await session.execute(stmt)).scalars())


async def remove_user(session: AsyncSession, tenant_id: uuid.UUID, email: str) -> bool:
    stmt = delete(PortalUser).where(PortalUser.tenant_id == tenant_id, PortalUser.email == email)
    return bool((await session.execute(stmt)).rowcount)  # type: ignore[attr-defined]


async def signed_in(
    session: AsyncSession, token_hash: str, now: datetime
) -> tuple[PortalSession, PortalUser, Tenant] | None:
    stmt = (
        select(PortalSession, PortalUser, Tenant)
        .join(PortalUser, PortalUser.id == PortalSession.user_id)
        .join(Tenant, Tenant.id == PortalUser.tenant_id)
        .where(PortalSession.token_hash == token_hash, PortalSession.expires_at > now)
    )
    row = (await session.execute(stmt)).one_or_none()
    return (row[0], row[1], row[2]) if row else None


async def end_session(session: AsyncSession, token_hash: str) -> None:
    await session.execute(delete(PortalSession).where(PortalSession.token_hash == token_hash))


async def end_sessions_of(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(delete(PortalSession).where(PortalSession.user_id == user_id))


async def purge_sessions(session: AsyncSession, expired_before: datetime) -> int:
    stmt = delete(PortalSession).where(PortalSession.expires_at < expired_before)
    return int((await session.execute(stmt)).rowcount)  # type: ignore[attr-defined]


# ---- sync status ------------------------------------------------------------------------------


def _company_scope(tenant_id: uuid.UUID, environment: str) -> Any:
    return and_(*scope.of(Company, tenant_id, environment))


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


async def company(
    session: AsyncSession, tenant_id: uuid.UUID, environment: str, company_id: uuid.UUID
) -> Company | None:
    stmt = select(Company).where(_company_scope(tenant_id, environment), Company.id == company_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def connections_of(session: AsyncSession, company_id: uuid.UUID) -> list[Connection]:
    stmt = (
        select(Connection)
        .where(Connection.company_id == company_id)
        .order_by(Connection.created_at, Connection.id)
    )
    return list((await session.execute(stmt)).scalars())


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


async def operations(
    session: AsyncSession, company_id: uuid.UUID, status: str | None, limit: int
) -> list[PushOperation]:
    stmt = select(PushOperation).where(PushOperation.company_id == company_id)
    if status:
        stmt = stmt.where(PushOperation.status == status)
    stmt = stmt.order_by(PushOperation.requested_at.desc(), PushOperation.key).limit(limit)
    return list((await session.execute(stmt)).scalars())


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
            *scope.of(Company, tenant_id, environment),
            SourceAccount.last_queried_at.is_not(None),
        )
        .order_by(rank, SourceAccount.last_queried_at, SourceAccount.pk)
        .limit(limit)
    )
    return [(a, c) for a, c in (await session.execute(stmt)).all()]
