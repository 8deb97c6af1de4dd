"""Retention rules: a tenant's effective policy (its overrides over the defaults), and one purge
pass of one policy for one tenant."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.config import Settings
from app.retention import repository, schemas
from app.retention.rules import POLICIES
from app.retention.tables import DestructionEntry, RetentionPolicy


def defaults(settings: Settings) -> dict[str, int]:
    """The deployment's defaults: BANKFEEDS_RETENTION_<POLICY>_DAYS."""
    return {name: int(getattr(settings, f"retention_{name}_days")) for name in POLICIES}


async def effective_days(
    session: AsyncSession, tenant_id: uuid.UUID, settings: Settings
) -> dict[str, int]:
    row = await repository.policy(session, tenant_id)
    days = defaults(settings)
    if row is not None:
        for name in POLICIES:
            value = getattr(row, f"{name}_days")
            if value is not None:
                days[name] = value
    return days


async def to_wire(
    session: AsyncSession, tenant_id: uuid.UUID, settings: Settings
) -> schemas.RetentionPolicy:
    row = await repository.policy(session, tenant_id)
    days = await effective_days(session, tenant_id, settings)
    overridden = [
        schemas.WIRE[n] for n in POLICIES if row is not None and getattr(row, f"{n}_days")
    ]
    return schemas.RetentionPolicy(
        **{schemas.WIRE[n]: d for n, d in days.items()}, overridden=overridden
    )


async def update(
    session: AsyncSession, tenant_id: uuid.UUID, settings: Settings, changes: dict[str, int | None]
) -> schemas.RetentionPolicy:
    """`changes` by wire name (already range-checked by the wire shape); null clears."""
    row = await repository.policy(session, tenant_id) or RetentionPolicy(tenant_id=tenant_id)
    for name in POLICIES:
        if schemas.WIRE[name] in changes:
            setattr(row, f"{name}_days", changes[schemas.WIRE[name]])
    row.updated_at = clock.now()
    await repository.save_policy(session, row)
    return await to_wire(session, tenant_id, settings)


async def destruction_log(
    session: AsyncSession, tenant_id: uuid.UUID, limit: int = 200
) -> list[DestructionEntry]:
    """The tenant's latest destruction log entries (counts only), newest first."""
    return await repository.destruction_log(session, tenant_id, limit)


def cutoff(days: int, now: datetime | None = None) -> datetime:
    return (now or clock.now()) - timedelta(days=days)


def log_rows(
    tenant_id: uuid.UUID,
    policy: str,
    days: int | None,
    purged: dict[str, repository.Purged],
    at: datetime,
) -> list[dict[str, Any]]:
    """Destruction log rows for what a run destroyed (tables with no rows destroyed: none)."""
    return [
        {
            "tenant_id": tenant_id,
            "at": at,
            "policy": policy,
            "table_name": table,
            "rows": p.rows,
            "retention_days": days,
            "oldest": p.oldest,
            "newest": p.newest,
        }
        for table, p in purged.items()
        if p.rows
    ]


async def log_destruction(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Destruction log rows (counts only), written in the caller's transaction."""
    await repository.log_destruction(session, rows)
