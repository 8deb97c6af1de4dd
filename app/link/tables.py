"""Link page sessions and each tenant's Link branding."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime


class LinkSession(Base):
    """A browser session started by spending a linkUrl OTP; the cookie holds only a random token
    whose SHA-256 is the key here."""

    __tablename__ = "link_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE")
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    location_confirmed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # "Get credentials" is budgeted per session (issue 28): the sets made, and the latest one
    # (revoked when the next is made, unless QuickBooks already used it).
    credentials_issued: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    last_credential_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)

    __table_args__ = (Index("ix_link_sessions_expires_at", "expires_at"),)


class LinkSettings(Base):
    """A tenant's branding of the Link page, per environment."""

    __tablename__ = "link_settings"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    environment: Mapped[str] = mapped_column(String(16), primary_key=True)
    callout_title_en: Mapped[str | None] = mapped_column(String(50), nullable=True)
    callout_body_en: Mapped[str | None] = mapped_column(String(150), nullable=True)
    callout_title_fr: Mapped[str | None] = mapped_column(String(50), nullable=True)
    callout_body_fr: Mapped[str | None] = mapped_column(String(150), nullable=True)
    accent_color: Mapped[str] = mapped_column(String(7), default="#0b6e4f")
    logo: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    logo_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
