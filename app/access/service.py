"""The access log's rule: what is recorded when someone reads a company's data."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.access import repository


async def record_access(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    environment: str,
    company_id: uuid.UUID,
    *,
    actor_kind: str,
    actor: str,
    action: str,
    route: str,
) -> None:
    """Someone read or exported a company's data: who (a staff email, an API key's prefix),
    what, where, when. Never the data itself."""
    await repository.record_access(
        session,
        {
            "tenant_id": tenant_id,
            "environment": environment,
            "at": clock.now(),
            "actor_kind": actor_kind,
            "actor": actor[:300],
            "action": action,
            "route": route[:300],
            "company_id": company_id,
        },
    )


async def entries(
    session: AsyncSession, tenant_id: uuid.UUID, environment: str, limit: int | None = 200
) -> list[Any]:
    """The tenant's access log in one environment, newest first."""
    return await repository.access_log(session, tenant_id, environment, limit)
