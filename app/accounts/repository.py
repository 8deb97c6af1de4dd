"""All SQL of the source-accounts domain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.tables import SourceAccount
from app.db import insert_ignoring_conflicts


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


async def of_connection(
    session: AsyncSession, connection_id: uuid.UUID, account_ids: Sequence[str] | None = None
) -> list[SourceAccount]:
    stmt = select(SourceAccount).where(SourceAccount.connection_id == connection_id)
    if account_ids is not None:
        stmt = stmt.where(SourceAccount.account_id.in_(account_ids))
    stmt = stmt.order_by(SourceAccount.created_at, SourceAccount.account_id)
    return list((await session.execute(stmt)).scalars())


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
