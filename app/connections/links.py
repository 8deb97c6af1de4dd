"""Where a company's Link flow starts, and the single-use passwords of the Link pages.
(A connection's wire shape and its own Link URL are in connections/schemas.py.)"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta
from urllib.parse import quote

from app import clock
from app.config import Settings
from app.tenants.service import digest


def redirect_url(settings: Settings, company_id: uuid.UUID, otp: str | None) -> str:
    """Company.redirect: the Link flow for the company's newest connection."""
    url = f"{settings.public_base_url.rstrip('/')}/companies/{company_id}/link"
    return f"{url}?otp={quote(otp)}" if otp else url


def fresh_otp(settings: Settings) -> tuple[str, str, datetime]:
    """A single-use password for a link: the password, its SHA-256 (all we keep), its expiry."""
    otp = secrets.token_urlsafe(24)
    return otp, digest(otp), clock.now() + timedelta(minutes=settings.otp_ttl_minutes)
