"""Source accounts: the SMB's bank accounts in the client app, fed to QuickBooks."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, Money, UTCDateTime, new_id
from app.vault import Sealed


class SourceAccount(Base):
    __tablename__ = "source_accounts"

    pk: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE")
    )
    account_id: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(SmallInteger)
    account_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    account_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # Sealed at rest under BANKFEEDS_SECRET_KEYS (app/vault.py); `vault.reveal` it to answer.
    account_number: Mapped[str | None] = mapped_column(Sealed(), nullable=True)
    sort_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    routing_info: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    account_info: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    currency: Mapped[str] = mapped_column(String(3))
    balance: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    modified_date: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The balance as the client set it through the account API (create, update), and when; a
    # push's balance does not move it. IDX serves it until a sent line carries a balance.
    own_balance: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    own_balance_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    feed_start_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    # The latest cleared date accepted so far: the chronological rule's floor, kept here so a
    # push reads it with the account row it locks.
    latest_cleared_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    # When Intuit last listed the account, and last asked for its transactions; the ten-day
    # disconnect detection reads only the latter (a listing alone does not keep a feed alive).
    last_listed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_queried_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Since when the feed has been stale (not pulled for BANKFEEDS_STALE_AFTER_HOURS), as the
    # feed-health run found it; cleared by the next pull. Null: fresh, or never pulled.
    stale_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("connection_id", "account_id"),
        # The ten-day detection: connected accounts by when Intuit last queried them.
        Index("ix_source_accounts_status_queried", "status", "last_queried_at"),
    )
