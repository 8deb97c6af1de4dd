"""All SQL of the access log."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.tables import AccessEntry


async def record_access(session: AsyncSession, row: dict[str, Any]) -> None:
    await session.execute(insert(AccessEntry), [row])


async def access_log(
    session: AsyncSession, tenant_id: uuid.UUID, environment: str, limit: int | None = 200
) -> list[AccessEntry]:
    stmt = (
        select(AccessEntry)
        .where(AccessEntry.tenant_id == tenant_id, AccessEntry.environment == environment)
        .order_by(AccessEntry.at.desc(), AccessEntry.id.desc())
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return list((await session.execute(stmt)).scalars())
