"""All SQL of the access log."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.tables import AccessEntry
from app.kit import scope


async def record_access(session: AsyncSession, row: dict[str, Any]) -> None:
    await session.execute(insert(AccessEntry), [row])


async def access_log(
    session: AsyncSession, tenant_id: uuid.UUID, environment: str, limit: int | None = 200
) -> list[AccessEntry]:
    stmt = (
        select(AccessEntry)
        .where(*scope.of(AccessEntry, tenant_id, environment))
        .order_by(AccessEntry.at.desc(), AccessEntry.id.desc())
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return list((await session.execute(stmt)).scalars())
