"""All SQL of the credentials domain."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.companies.tables import Company
from app.connections.tables import Connection
from app.credentials.tables import Credential


async def add(session: AsyncSession, credential: Credential) -> None:
    session.add(credential)
    await session.flush()


async def by_username(
    session: AsyncSession, username: str
) -> tuple[Credential, uuid.UUID, str] | None:
    """The set with its connection's tenant and environment."""
    stmt = (
        select(Credential, Company.tenant_id, Company.environment)
        .join(Connection, Connection.id == Credential.connection_id)
        .join(Company, Company.id == Connection.company_id)
        .where(Credential.username == username)
    )
    row = (await session.execute(stmt)).first()
    return (row[0], row[1], row[2]) if row else None


async def lock(
    session: AsyncSession, credential_id: uuid.UUID, *, exclusive: bool
) -> Credential | None:
    """Re-read the set under a row lock held to the end of the request's transaction.

    A pull holds a shared lock, so a revoke (an UPDATE) waits for pulls already authenticated and
    every later pull sees the revoke. The first use takes the exclusive lock to claim the set once.
    """
    stmt = (
        select(Credential)
        .where(Credential.id == credential_id)
        .with_for_update(read=not exclusive)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def claim(
    session: AsyncSession, credential_id: uuid.UUID, at: datetime, partner_key_id: uuid.UUID
) -> bool:
    stmt = (
        update(Credential)
        .where(Credential.id == credential_id, Credential.claimed_at.is_(None))
        .values(claimed_at=at, claimed_partner_key_id=partner_key_id)
    )
    return bool((await session.execute(stmt)).rowcount)  # type: ignore[attr-defined]


async def revoke_unclaimed(session: AsyncSession, credential_id: uuid.UUID, at: datetime) -> int:
    """Revokes the set if nobody has signed in with it yet (a set in use is left alone)."""
    stmt = (
        update(Credential)
        .where(
            Credential.id == credential_id,
            Credential.claimed_at.is_(None),
            Credential.revoked_at.is_(None),
        )
        .values(revoked_at=at)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(await session.execute(stmt), "rowcount", 0))


async def revoke_all(session: AsyncSession, connection_id: uuid.UUID, at: datetime) -> int:
    stmt = (
        update(Credential)
        .where(Credential.connection_id == connection_id, Credential.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    return int((await session.execute(stmt)).rowcount)  # type: ignore[attr-defined]


async def purge_unusable(session: AsyncSession, expired_before: datetime) -> int:
    """Unclaimed sets past their lifetime, and revoked sets, are of no further use."""
    stmt = delete(Credential).where(
        ((Credential.claimed_at.is_(None)) & (Credential.expires_at < expired_before))
        | (Credential.revoked_at < expired_before)
    )
    return int((await session.execute(stmt)).rowcount)  # type: ignore[attr-defined]
