"""All SQL of the tenants domain."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Direct
from app.kit import scope
from app.tenants.tables import ApiKey, PartnerKey, Tenant


async def add(session: AsyncSession, row: Tenant | ApiKey | PartnerKey) -> None:
    session.add(row)
    await session.flush()


async def by_name_or_id(session: AsyncSession, ref: str) -> Tenant | None:
    try:
        as_id: uuid.UUID | None = uuid.UUID(ref)
    except ValueError:
        as_id = None
    stmt = select(Tenant).where(Tenant.name == ref)
    if as_id is not None:
        stmt = select(Tenant).where((Tenant.id == as_id) | (Tenant.name == ref))
    return (await session.execute(stmt)).scalars().first()


async def by_name(session: AsyncSession, name: str) -> Tenant | None:
    return (await session.execute(select(Tenant).where(Tenant.name == name))).scalar_one_or_none()


async def list_all(session: AsyncSession) -> list[Tenant]:
    return list((await session.execute(select(Tenant).order_by(Tenant.created_at))).scalars())


async def active_key_count(session: AsyncSession, tenant_id: uuid.UUID) -> int:
    stmt = select(func.count()).where(ApiKey.tenant_id == tenant_id, ApiKey.revoked_at.is_(None))
    return int((await session.execute(stmt)).scalar_one())


async def keys_of(session: AsyncSession, tenant_id: uuid.UUID) -> list[ApiKey]:
    stmt = select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.created_at)
    return list((await session.execute(stmt)).scalars())


async def revoke_key(
    session: AsyncSession, tenant_id: uuid.UUID, key_id: uuid.UUID, at: datetime
) -> bool:
    stmt = (
        update(ApiKey)
        .where(ApiKey.tenant_id == tenant_id, ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    result = await session.execute(stmt)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def revoke_partner_keys(
    session: AsyncSession, tenant_id: uuid.UUID, environment: str, at: datetime
) -> None:
    await session.execute(
        update(PartnerKey)
        .where(
            *scope.of(PartnerKey, tenant_id, environment),
            PartnerKey.revoked_at.is_(None),
        )
        .values(revoked_at=at)
    )


# Every client-API request runs this: built once, run straight on the driver (app/db.py).
_PRINCIPAL = Direct(
    select(ApiKey.tenant_id, ApiKey.environment, ApiKey.prefix).where(
        ApiKey.key_hash == bindparam("key_hash"), ApiKey.revoked_at.is_(None)
    )
)


async def principal_for_key(
    session: AsyncSession, key_hash: str
) -> tuple[uuid.UUID, str, str] | None:
    """The key's tenant, environment and prefix (the prefix names the key in the access log)."""
    row = await _PRINCIPAL.first(session, {"key_hash": key_hash})
    return (row[0], row[1], row[2]) if row else None


async def partner_key(session: AsyncSession, key_hash: str) -> PartnerKey | None:
    stmt = select(PartnerKey).where(
        PartnerKey.key_hash == key_hash, PartnerKey.revoked_at.is_(None)
    )
    return (await session.execute(stmt)).scalar_one_or_none()
