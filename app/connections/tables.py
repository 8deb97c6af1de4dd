"""Connections (one QBO bank-feeds link per row) and the one-time passwords of their linkUrl."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, new_id


class Connection(Base):
    __tablename__ = "connections"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    platform_key: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_sync: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (Index("ix_connections_company_created", "company_id", "created_at"),)


class LinkOtp(Base):
    """A single-use password in a linkUrl; only its SHA-256 is kept."""

    __tablename__ = "link_otps"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE")
    )
    otp_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        Index("ix_link_otps_connection_id", "connection_id"),
        Index("ix_link_otps_expires_at", "expires_at"),
    )


class CompanyLinkOtp(Base):
    """A single-use password in a company's `redirect` URL: spending it opens the Link flow for the
    company's newest connection (made on the spot when it has none). Only its SHA-256 is kept."""

    __tablename__ = "company_link_otps"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    company_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    otp_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        Index("ix_company_link_otps_company_id", "company_id"),
        Index("ix_company_link_otps_expires_at", "expires_at"),
    )
