"""Where a company's Link flow starts, and the single-use passwords of the Link pages.
(A connection's wire shape and its own Link URL are in connections/schemas.py.)

Also what a company's wire asks of its connections (companies/service.py, which
connections/service.py itself calls, so it reaches the connections here)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.config import Settings
from app.connections import repository
from app.connections.tables import CompanyLinkOtp, Connection
from app.tenants.service import digest


def redirect_url(settings: Settings, company_id: uuid.UUID, otp: str | None) -> str:
    """Company.redirect: the Link flow for the company's newest connection."""
    url = f"{settings.public_base_url.rstrip('/')}/companies/{company_id}/link"
    return f"{url}?otp={quote(otp)}" if otp else url


def fresh_otp(settings: Settings) -> tuple[str, str, datetime]:
    """A single-use password for a link: the password, its SHA-256 (all we keep), its expiry."""
    otp = secrets.token_urlsafe(24)
    return otp, digest(otp), clock.now() + timedelta(minutes=settings.otp_ttl_minutes)


async def company_redirect(session: AsyncSession, settings: Settings, company_id: uuid.UUID) -> str:
    """Company.redirect with a fresh single-use password, kept (as its digest) until it expires."""
    otp, otp_hash, expiry = fresh_otp(settings)
    await repository.add(
        session, CompanyLinkOtp(company_id=company_id, otp_hash=otp_hash, expires_at=expiry)
    )
    return redirect_url(settings, company_id, otp)


async def of_companies(session: AsyncSession, company_ids: Sequence[uuid.UUID]) -> list[Connection]:
    """The connections of these companies, oldest first."""
    return await repository.of_companies(session, company_ids)
