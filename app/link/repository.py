"""All SQL of the Link pages: sessions and branding."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.companies.tables import Company
from app.connections.tables import CompanyLinkOtp, Connection, LinkOtp
from app.link.tables import LinkSession, LinkSettings
from app.tenants.tables import Tenant


async def otp(session: AsyncSession, otp_hash: str, *, lock: bool) -> LinkOtp | None:
    """A linkUrl's OTP row; `lock` (spending it) holds the row until the transaction ends."""
    stmt = select(LinkOtp).where(LinkOtp.otp_hash == otp_hash)
    stmt = stmt.with_for_update() if lock else stmt
    return (await session.execute(stmt)).scalar_one_or_none()


async def company_otp(session: AsyncSession, otp_hash: str, *, lock: bool) -> CompanyLinkOtp | None:
    """A Company.redirect OTP row; `lock` as for `otp`."""
    stmt = select(CompanyLinkOtp).where(CompanyLinkOtp.otp_hash == otp_hash)
    stmt = stmt.with_for_update() if lock else stmt
    return (await session.execute(stmt)).scalar_one_or_none()


async def company_context(
    session: AsyncSession, company_id: uuid.UUID
) -> tuple[Company, Tenant] | None:
    stmt = (
        select(Company, Tenant)
        .join(Tenant, Tenant.id == Company.tenant_id)
        .where(Company.id == company_id)
    )
    row = (await session.execute(stmt)).first()
    return (row[0], row[1]) if row else None


async def newest_connection(
    session: AsyncSession, company_id: uuid.UUID, platform_key: str
) -> Connection | None:
    stmt = (
        select(Connection)
        .where(Connection.company_id == company_id, Connection.platform_key == platform_key)
        .order_by(Connection.created_at.desc(), Connection.id.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def add(session: AsyncSession, row: object) -> None:
    session.add(row)
    await session.flush()


async def session_by_token(
    session: AsyncSession, token_hash: str, now: datetime
) -> LinkSession | None:
    stmt = select(LinkSession).where(
        LinkSession.token_hash == token_hash, LinkSession.expires_at > now
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def reserve_credentials(session: AsyncSession, token_hash: str, limit: int) -> bool:
    """Counts one more set for the session if it has made fewer than `limit` (one atomic
    statement, so parallel presses cannot all pass); False once the budget is spent."""
    stmt = (
        update(LinkSession)
        .where(LinkSession.token_hash == token_hash, LinkSession.credentials_issued < limit)
        .values(credentials_issued=LinkSession.credentials_issued + 1)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(await session.execute(stmt), "rowcount", 0))


async def remember_credential(
    session: AsyncSession, token_hash: str, credential_id: uuid.UUID
) -> uuid.UUID | None:
    """Records the session's latest set; returns the one it replaces."""
    stmt = select(LinkSession.last_credential_id).where(LinkSession.token_hash == token_hash)
    previous = (await session.execute(stmt)).scalar_one_or_none()
    await session.execute(
        update(LinkSession)
        .where(LinkSession.token_hash == token_hash)
        .values(last_credential_id=credential_id)
        .execution_options(synchronize_session=False)
    )
    return previous


async def context(
    session: AsyncSession, connection_id: uuid.UUID
) -> tuple[Connection, Company, Tenant] | None:
    stmt = (
        select(Connection, Company, Tenant)
        .join(Company, Company.id == Connection.company_id)
        .join(Tenant, Tenant.id == Company.tenant_id)
        .where(Connection.id == connection_id)
    )
    row = (await session.execute(stmt)).first()
    return (row[0], row[1], row[2]) if row else None


async def settings(
    session: AsyncSession, tenant_id: uuid.UUID, environment: str
) -> LinkSettings | None:
    return await session.get(LinkSettings, (tenant_id, environment))


async def purge_sessions(session: AsyncSession, before: datetime) -> int:
    result = await session.execute(delete(LinkSession).where(LinkSession.expires_at < before))
    return int(result.rowcount)  # type: ignore[attr-defined]
