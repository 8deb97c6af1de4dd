"""All SQL of the source-accounts domain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.tables import SourceAccount
from app.connections.tables import Connection
from app.db import insert_ignoring_conflicts, uuid_param


async def insert_new(
    session: AsyncSession, connection_id: uuid.UUID, rows: Sequence[dict[str, Any]]
) -> set[str]:
    """Insert rows whose id is not yet taken in the connection; returns the ids inserted.

    ON CONFLICT DO NOTHING makes concurrent creates of one id safe: exactly one wins.
    """
    values = [{**row, "connection_id": connection_id} for row in rows]
    inserted = await insert_ignoring_conflicts(
        session,
        SourceAccount,
        values,
        conflict_columns=["connection_id", "account_id"],
        returning=SourceAccount.account_id,
    )
    return set(inserted)


# The account list (client API, IDX, Link page) runs this: built once.
_OF_CONNECTION = (
    select(SourceAccount)
    .where(SourceAccount.connection_id == uuid_param("connection_id"))
    .order_by(SourceAccount.created_at, SourceAccount.account_id)
)


async def of_connection(
    session: AsyncSession, connection_id: uuid.UUID, account_ids: Sequence[str] | None = None
) -> list[SourceAccount]:
    if account_ids is None:
        params = {"connection_id": connection_id}
        return list((await session.execute(_OF_CONNECTION, params)).scalars())
    stmt = _OF_CONNECTION.where(SourceAccount.account_id.in_(account_ids))
    return list((await session.execute(stmt, {"connection_id": connection_id})).scalars())


async def get(
    session: AsyncSession, connection_id: uuid.UUID, account_id: str, *, for_update: bool = False
) -> SourceAccount | None:
    stmt = select(SourceAccount).where(
        SourceAccount.connection_id == connection_id, SourceAccount.account_id == account_id
    )
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def remove(session: AsyncSession, account: SourceAccount) -> None:
    await session.execute(delete(SourceAccount).where(SourceAccount.pk == account.pk))


async def by_pk(
    session: AsyncSession, connection_id: uuid.UUID, pk: uuid.UUID, *, for_update: bool = False
) -> SourceAccount | None:
    stmt = select(SourceAccount).where(
        SourceAccount.connection_id == connection_id, SourceAccount.pk == pk
    )
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def disconnect_stale(
    session: AsyncSession, cutoff: datetime
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Every connected account Intuit has not queried since `cutoff`, now disconnected, in one
    statement; returns their (pk, connection id)."""
    stmt = (
        update(SourceAccount)
        .where(SourceAccount.status == "connected", SourceAccount.last_queried_at <= cutoff)
        .values(status="disconnected")
        .returning(SourceAccount.pk, SourceAccount.connection_id)
        .execution_options(synchronize_session=False)
    )
    return [(pk, cid) for pk, cid in (await session.execute(stmt)).all()]


async def by_pks(session: AsyncSession, pks: Sequence[uuid.UUID]) -> list[SourceAccount]:
    stmt = select(SourceAccount).where(SourceAccount.pk.in_(pks))
    return list((await session.execute(stmt)).scalars())


async def count_stale(session: AsyncSession, cutoff: datetime) -> int:
    stmt = (
        select(func.count())
        .select_from(SourceAccount)
        .where(SourceAccount.status == "connected", SourceAccount.last_queried_at <= cutoff)
    )
    return int((await session.execute(stmt)).scalar_one())


async def mark_stale(
    session: AsyncSession, cutoff: datetime, now: datetime
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Connected accounts not queried since `cutoff` and not yet known stale, now stale (one
    statement); returns their (pk, connection id), so each is announced once."""
    stmt = (
        update(SourceAccount)
        .where(
            SourceAccount.status == "connected",
            SourceAccount.last_queried_at <= cutoff,
            SourceAccount.stale_since.is_(None),
        )
        .values(stale_since=now)
        .returning(SourceAccount.pk, SourceAccount.connection_id)
        .execution_options(synchronize_session=False)
    )
    return [(pk, cid) for pk, cid in (await session.execute(stmt)).all()]


async def unlink_all_disconnected(session: AsyncSession) -> list[Connection]:
    """Linked connections that have accounts, all of them disconnected, become Unlinked (the
    accounts' SQL: it reads them, and the connections sit below)."""
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
