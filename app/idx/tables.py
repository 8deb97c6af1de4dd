"""The re-serve audit: support re-published an account's sent transactions of a date range.

The pull log (what QuickBooks fetched, `IdxPull`) is transactions/tables.py's: it is the record
of delivery the push history and the certificates read, and the IDX API writes it.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime


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
