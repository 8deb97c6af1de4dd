"""Pending (held) transactions, their links to cleared lines, match suggestions, the tenant's
matching mode and the reversal audit. Nothing here is ever published to QuickBooks."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, Money, UTCDateTime
from app.transactions.tables import BigId

HELD, POSTED, RELEASED, EXPIRED = "held", "posted", "released", "expired"
STATES = (HELD, POSTED, RELEASED, EXPIRED)


class PendingTransaction(Base):
    """A hold (card authorization, deposit on hold): held until a cleared line links to it
    (posted), the client releases it, or it expires. `history` keeps every earlier revision."""

    __tablename__ = "pending_transactions"

    pk: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    account_pk: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("source_accounts.pk", ondelete="CASCADE")
    )
    pending_id: Mapped[str] = mapped_column(String(100))
    authorized_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money())
    description: Mapped[str] = mapped_column(String(1000))
    counterparty: Mapped[str | None] = mapped_column(String(255), nullable=True)
    reference: Mapped[str | None] = mapped_column(String(255), nullable=True)
    expires_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    release_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # When it left `held` (posted, released, expired): terminal rows are purged after a while.
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)

    __table_args__ = (
        UniqueConstraint("account_pk", "pending_id"),
        Index("ix_pending_transactions_status_account", "status", "account_pk"),
    )


class PendingLink(Base):
    """A cleared line's link to a pending: `linked`, or `waiting` for a pending named by
    pendingTransactionId that has not arrived yet. A cleared line has at most one."""

    __tablename__ = "pending_links"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_pk: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("source_accounts.pk", ondelete="CASCADE")
    )
    pending_id: Mapped[str] = mapped_column(String(100))
    transaction_id: Mapped[str] = mapped_column(String(100))
    push_operation_key: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    state: Mapped[str] = mapped_column(String(8))  # linked | waiting
    matched_by: Mapped[str] = mapped_column(String(24))  # sameId | pendingTransactionId | auto
    partial: Mapped[bool] = mapped_column(Boolean, default=False)
    cleared_amount: Mapped[Decimal] = mapped_column(Money())
    amount_delta: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    # The pending's authorizedDate, served to QuickBooks as the line's transactionDate: set only
    # when the link was made before the line was published (a published line never changes).
    serve_authorized_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    linked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        UniqueConstraint("account_pk", "transaction_id"),
        Index("ix_pending_links_account_pending", "account_pk", "pending_id"),
        Index("ix_pending_links_operation", "push_operation_key"),
    )


class PendingSuggestion(Base):
    """A likely but unproven match (a tip within +30 %, or several equal holds): never a link."""

    __tablename__ = "pending_suggestions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_pk: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("source_accounts.pk", ondelete="CASCADE")
    )
    pending_id: Mapped[str] = mapped_column(String(100))
    transaction_id: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(24))  # sameAmount | description
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("account_pk", "pending_id", "transaction_id"),)


class PendingSettings(Base):
    """A tenant's matching mode: `explicit` (same id, pendingTransactionId) or `auto` (also a
    unique exact-amount match)."""

    __tablename__ = "pending_settings"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    matching: Mapped[str] = mapped_column(String(8))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TransactionReversal(Base):
    """The audit of a reversal line: which published line it offsets, when, and for whom."""

    __tablename__ = "transaction_reversals"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    account_pk: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("source_accounts.pk", ondelete="CASCADE")
    )
    original_id: Mapped[str] = mapped_column(String(100))
    reversal_id: Mapped[str] = mapped_column(String(100))
    amount: Mapped[Decimal] = mapped_column(Money())
    push_operation_key: Mapped[uuid.UUID] = mapped_column()
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    environment: Mapped[str] = mapped_column(String(16))

    __table_args__ = (UniqueConstraint("account_pk", "original_id"),)
