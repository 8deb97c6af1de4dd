"""What QuickBooks fetched: one row per IDX transactions answer (the pull log).

A pull is one INSERT, never a write per transaction: the rows an answer carried are exactly the
account's sent transactions between its first and last (sent_at, id) keys, because every answer
is one contiguous slice of that order. A transaction is *delivered* once a successful pull's
slice covers its key (see transactions.history_repository.delivered_at).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime

BigId = BigInteger().with_variant(Integer(), "sqlite")


class IdxPull(Base):
    __tablename__ = "idx_pulls"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    environment: Mapped[str] = mapped_column(String(16))
    account_pk: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("source_accounts.pk", ondelete="CASCADE")
    )
    pulled_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The range QuickBooks asked for (modifiedDate, startDate inclusive, endDate exclusive).
    start_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    page_number: Mapped[int] = mapped_column(Integer)
    page_size: Mapped[int] = mapped_column(Integer)
    rows: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    status: Mapped[int] = mapped_column(SmallInteger)
    # Seconds since the account's previous transactions query (null for its first): the lag.
    lag_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The answer's slice of (sent_at, id); null when it carried no rows.
    first_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    first_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_id: Mapped[int | None] = mapped_column(BigId, nullable=True)

    __table_args__ = (
        Index("ix_idx_pulls_account_pulled", "account_pk", "pulled_at"),
        Index("ix_idx_pulls_tenant_pulled", "tenant_id", "environment", "pulled_at"),
        Index("ix_idx_pulls_pulled", "pulled_at"),
    )


class Reserve(Base):
    """Support re-published an account's sent transactions of a date range (audit)."""

    __tablename__ = "reserves"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    account_pk: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("source_accounts.pk", ondelete="CASCADE")
    )
    # Who asked: "api" (the tenant's API key, with the name it gave) or a portal user's email.
    actor: Mapped[str] = mapped_column(String(300))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Cleared dates, both inclusive.
    from_date: Mapped[date] = mapped_column(Date)
    to_date: Mapped[date] = mapped_column(Date)
    rows: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_reserves_account_requested", "account_pk", "requested_at"),)
