"""Retention: each tenant's policy (its overrides of the defaults) and the destruction log (what
the purge and deletions removed, never what it said)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime

BigId = BigInteger().with_variant(Integer(), "sqlite")


class RetentionPolicy(Base):
    """A tenant's overrides, in days; null keeps the default (app/retention/rules.py)."""

    __tablename__ = "retention_policies"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    sent_lines_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pull_log_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    push_operations_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    webhooks_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    audit_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DestructionEntry(Base):
    """One table's rows destroyed by one purge run (or one deletion): counts and dates only."""

    __tablename__ = "destruction_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The policy applied ("sent_lines", ...) or the deletion ("company_deleted", ...).
    policy: Mapped[str] = mapped_column(String(32))
    table_name: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer)
    retention_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The oldest and newest of the destroyed rows' dates (their policy's date column).
    oldest: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    newest: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (Index("ix_destruction_log_tenant_at", "tenant_id", "at"),)
