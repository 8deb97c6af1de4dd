"""All SQL of the connections domain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Uuid, bindparam, delete, exists, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from app.companies.tables import Company
from app.connections.tables import CompanyLinkOtp, Connection, LinkOtp
from app.db import UTCDateTime, uuid_param
from app.kit.principal import Principal


async def add(session: AsyncSession, row: Connection | LinkOtp | CompanyLinkOtp) -> None:
    session.add(row)
    await session.flush()


# The principal's connection, for statements built once that join Connection to Company; bind
# them with owned_params.
OWNED_CONNECTION = (
    Connection.id == uuid_param("connection_id"),
    Connection.company_id == uuid_param("company_id"),
    Company.tenant_id == uuid_param("tenant_id"),
    Company.environment == bindparam("environment"),
)


def owned_params(
    principal: Principal, company_id: uuid.UUID, connection_id: uuid.UUID
) -> dict[str, object]:
    return {
        "connection_id": connection_id,
        "company_id": company_id,
        "tenant_id": principal.tenant_id,
        "environment": principal.environment,
    }


# Most client-API requests run this: built once, so each call skips building the statement
# and its cache key.
_GET = (
    select(Connection).join(Company, Company.id == Connection.company_id).where(*OWNED_CONNECTION)
)


async def get(
    session: AsyncSession, principal: Principal, company_id: uuid.UUID, connection_id: uuid.UUID
) -> Connection | None:
    params = owned_params(principal, company_id, connection_id)
    return (await session.execute(_GET, params)).scalar_one_or_none()


async def of_companies(session: AsyncSession, company_ids: Sequence[uuid.UUID]) -> list[Connection]:
    if not company_ids:
        return []
    stmt = (
        select(Connection)
        .where(Connection.company_id.in_(company_ids))
        .order_by(Connection.created_at, Connection.id)
    )
    return list((await session.execute(stmt)).scalars())


async def page(
    session: AsyncSession,
    company_id: uuid.UUID,
    where: Sequence[ColumnElement[bool]],
    order: Sequence[ColumnElement[object]],
    offset: int,
    limit: int,
) -> tuple[list[Connection], int]:
    conditions = [Connection.company_id == company_id, *where]
    count = select(func.count()).select_from(Connection).where(*conditions)
    total = (await session.execute(count)).scalar_one()
    stmt = select(Connection).where(*conditions).order_by(*order).offset(offset).limit(limit)
    return list((await session.execute(stmt)).scalars()), int(total)


async def set_status(session: AsyncSession, connection: Connection, status: str) -> None:
    await session.execute(
        update(Connection).where(Connection.id == connection.id).values(status=status)
    )
    connection.status = status


async def remove(session: AsyncSession, connection: Connection) -> None:
    await session.execute(delete(Connection).where(Connection.id == connection.id))


async def purge_otps(session: AsyncSession, expired_before: datetime) -> int:
    """The linkUrl and Company.redirect OTPs that expired before `expired_before`."""
    purged = 0
    for table in (LinkOtp, CompanyLinkOtp):
        result = await session.execute(delete(table).where(table.expires_at < expired_before))
        purged += int(result.rowcount)  # type: ignore[attr-defined]
    return purged


async def mark_linked(session: AsyncSession, connection_id: uuid.UUID) -> bool:
    """PendingAuth or Unlinked → Linked; True when the status changed."""
    stmt = (
        update(Connection)
        .where(Connection.id == connection_id, Connection.status != "Linked")
        .values(status="Linked")
    )
    return bool((await session.execute(stmt)).rowcount)  # type: ignore[attr-defined]


async def record_sync(session: AsyncSession, connection_id: uuid.UUID, at: datetime) -> None:
    """QuickBooks queried an account of the connection at `at`: its and its company's lastSync
    (never moved back by a slower, earlier query committing later)."""
    company_id = (
        await session.execute(
            update(Connection)
            .where(Connection.id == connection_id)
            .where((Connection.last_sync.is_(None)) | (Connection.last_sync < at))
            .values(last_sync=at)
            .returning(Connection.company_id)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    if company_id is not None:
        await session.execute(
            update(Company)
            .where(Company.id == company_id)
            .where((Company.last_sync.is_(None)) | (Company.last_sync < at))
            .values(last_sync=at)
            .execution_options(synchronize_session=False)
        )


# PostgreSQL: what a QuickBooks query does to its connection, in one round trip instead of three
# (record_sync's two and mark_linked's): lastSync moves forward, the company's with it, and the
# connection is Linked. The connection's row is locked first, so of two queries racing to link
# it only one sees the old status.
_QUERIED = text(
    """
    WITH before AS (SELECT id, status FROM connections WHERE id = :connection_id FOR UPDATE),
    moved AS (
      UPDATE connections AS c SET status = 'Linked',
        last_sync = CASE WHEN c.last_sync IS NULL OR c.last_sync < :at THEN :at
                    ELSE c.last_sync END
      FROM before
      WHERE c.id = before.id
        AND (c.status <> 'Linked' OR c.last_sync IS NULL OR c.last_sync < :at)
      RETURNING c.company_id, before.status AS was
    ),
    company AS (
      UPDATE companies SET last_sync = :at FROM moved
      WHERE companies.id = moved.company_id
        AND (companies.last_sync IS NULL OR companies.last_sync < :at)
    )
    SELECT was FROM moved
    """
).bindparams(bindparam("connection_id", type_=Uuid()), bindparam("at", type_=UTCDateTime()))


async def queried(session: AsyncSession, connection_id: uuid.UUID, at: datetime) -> bool:
    """QuickBooks queried an account of the connection at `at`: record_sync, then mark_linked;
    True when the connection became Linked."""
    if session.get_bind().dialect.name != "postgresql":
        await record_sync(session, connection_id, at)
        return await mark_linked(session, connection_id)
    params = {"connection_id": connection_id, "at": at}
    was = (await session.execute(_QUERIED, params)).scalar_one_or_none()
    return was is not None and was != "Linked"


async def by_id(session: AsyncSession, connection_id: uuid.UUID) -> Connection | None:
    return await session.get(Connection, connection_id)


async def unlink_all_disconnected(session: AsyncSession) -> list[Connection]:
    """Linked connections that have accounts, all of them disconnected, become Unlinked."""
    from app.accounts.tables import SourceAccount

    has_accounts = exists().where(SourceAccount.connection_id == Connection.id)
    has_live = exists().where(
        SourceAccount.connection_id == Connection.id, SourceAccount.status != "disconnected"
    )
    stmt = (
        update(Connection)
        .where(Connection.status == "Linked", has_accounts, ~has_live)
        .values(status="Unlinked")
        .returning(Connection)
        .execution_options(synchronize_session=False)
    )
    return list((await session.execute(stmt)).scalars())


async def companies_of_connections(
    session: AsyncSession, connection_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Company]:
    stmt = (
        select(Connection.id, Company)
        .join(Company, Company.id == Connection.company_id)
        .where(Connection.id.in_(connection_ids))
    )
    return {cid: company for cid, company in (await session.execute(stmt)).all()}
