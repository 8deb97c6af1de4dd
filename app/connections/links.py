"""How a connection looks on the wire, and where its Link page lives."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta
from urllib.parse import quote

from app import clock
from app.config import Settings
from app.connections import schemas
from app.connections.tables import Connection
from app.tenants.service import digest

PLATFORM_KEY = "hcws"
PLATFORM_NAME = "QuickBooks Online Bank Feeds"
# Stable identifiers for the one integration we serve (Codat returns such ids per platform).
INTEGRATION_ID = "6a9a2b1e-3c55-4f0e-9d0a-5b2f3f1c8a11"
SOURCE_ID = "1d6f8c7e-2b4a-4e39-8f55-0c9b7a6d3e21"


def link_url(settings: Settings, connection: Connection, otp: str | None) -> str:
    base = settings.public_base_url.rstrip("/")
    url = f"{base}/companies/{connection.company_id}/connections/{connection.id}/start"
    return f"{url}?otp={quote(otp)}" if otp else url


def redirect_url(settings: Settings, company_id: uuid.UUID, otp: str | None) -> str:
    """Company.redirect: the Link flow for the company's newest connection."""
    url = f"{settings.public_base_url.rstrip('/')}/companies/{company_id}/link"
    return f"{url}?otp={quote(otp)}" if otp else url


def fresh_otp(settings: Settings) -> tuple[str, str, datetime]:
    """A single-use password for a link: the password, its SHA-256 (all we keep), its expiry."""
    otp = secrets.token_urlsafe(24)
    return otp, digest(otp), clock.now() + timedelta(minutes=settings.otp_ttl_minutes)


def to_wire(connection: Connection, url: str) -> schemas.Connection:
    return schemas.Connection(
        id=str(connection.id),
        integrationId=INTEGRATION_ID,
        integrationKey=connection.platform_key,
        sourceId=SOURCE_ID,
        sourceType="BankFeed",
        platformName=PLATFORM_NAME,
        linkUrl=url,
        status=connection.status,
        lastSync=connection.last_sync,
        created=connection.created_at,
    )
