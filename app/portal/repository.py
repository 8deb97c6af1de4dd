"""All SQL of the portal's own tables: staff users and their sessions.

The read-only views of the sync are the portal's read model, `portal/status_repository.py`.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.portal.tables import PortalSession, PortalUser
from app.tenants.tables import Tenant


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
