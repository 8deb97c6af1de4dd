"""Balance certificates: one row per account, day and revision; each account's running state;
the bank's end-of-day figures (`balances`) and their audit."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, Money, UTCDateTime
from app.transactions.tables import BankTransaction, BigId

# An account's lines by date: certification reads the days it recomputes, never the history.
BY_DAY = Index(
    "ix_bank_transactions_account_cleared",
    BankTransaction.account_pk,
    BankTransaction.cleared_on,
    BankTransaction.id,
)


class BalanceCertificate(Base):
    """One revision of one day's certificate. Revisions are never rewritten in their content;
    status and delivery move within a revision (pendingDelivery → certified)."""

    __tablename__ = "balance_certificates"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_pk: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("source_accounts.pk", ondelete="CASCADE")
    )
    day: Mapped[date] = mapped_column(Date)
    revision: Mapped[int] = mapped_column(Integer)
    # Its place in the account's chain (1, 2, ...): revisions chain in the order they were issued.
    seq: Mapped[int] = mapped_column(Integer)
    is_current: Mapped[bool] = mapped_column(Boolean)
    opening: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    credits: Mapped[Decimal] = mapped_column(Money())
    debits: Mapped[Decimal] = mapped_column(Money())
    count: Mapped[int] = mapped_column(Integer)
    closing: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    expected_closing: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    lines_digest: Mapped[str] = mapped_column(String(64))
    chain_digest: Mapped[str] = mapped_column(String(64))
    previous_digest: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    first_break: Mapped[str | None] = mapped_column(String(100), nullable=True)
    difference: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    delivered_through: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    after_gap: Mapped[bool] = mapped_column(Boolean)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    certified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The daily balanceCertified digest that carried it (null until then).
    digested_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        # Exactly once per revision, whatever the number of workers.
        UniqueConstraint("account_pk", "day", "revision"),
        UniqueConstraint("account_pk", "seq", name="uq_balance_certificates_account_seq"),
        Index(
            "ix_balance_certificates_current",
            "account_pk",
            "day",
            postgresql_where=text("is_current"),
            sqlite_where=text("is_current"),
        ),
        Index(
            "ix_balance_certificates_undigested",
            "certified_at",
            postgresql_where=text(
                "is_current AND certified_at IS NOT NULL AND digested_at IS NULL"
            ),
            sqlite_where=text("is_current AND certified_at IS NOT NULL AND digested_at IS NULL"),
        ),
    )


class CertificateState(Base):
    """An account's running state: where its chain ends, what the last run saw, and from which
    day the next run must look again (so no run re-reads the account's history)."""

    __tablename__ = "certificate_states"

    account_pk: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("source_accounts.pk", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, default=0)
    chain_tip: Mapped[str] = mapped_column(String(64))
    # Lines sent at or after this instant were not seen sent by the last run.
    sent_through: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # A day to look at again (a `balances` figure arrived); the oldest day not yet certified
    # for want of delivery. Null: nothing.
    dirty_from: Mapped[date | None] = mapped_column(Date, nullable=True)
    waiting_from: Mapped[date | None] = mapped_column(Date, nullable=True)
    gaps: Mapped[int] = mapped_column(Integer, default=0)
    oldest_uncertified: Mapped[date | None] = mapped_column(Date, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index(
            "ix_certificate_states_dirty",
            "account_pk",
            postgresql_where=text("dirty_from IS NOT NULL OR waiting_from IS NOT NULL"),
            sqlite_where=text("dirty_from IS NOT NULL OR waiting_from IS NOT NULL"),
        ),
    )


class DailyBalance(Base):
    """The bank's end-of-day figure for a day (extension `balances`); the same day again
    replaces it, and the replaced figure is kept in `daily_balance_changes`."""

    __tablename__ = "daily_balances"

    account_pk: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("source_accounts.pk", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    closing: Mapped[Decimal] = mapped_column(Money())
    available: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DailyBalanceChange(Base):
    """Audit: a `balances` figure replaced by another for the same day."""

    __tablename__ = "daily_balance_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_pk: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("source_accounts.pk", ondelete="CASCADE")
    )
    day: Mapped[date] = mapped_column(Date)
    old_closing: Mapped[Decimal] = mapped_column(Money())
    old_available: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    new_closing: Mapped[Decimal] = mapped_column(Money())
    new_available: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_daily_balance_changes_account_day", "account_pk", "day"),)


class BalanceDigest(Base):
    """When a connection's last balanceCertified digest went out (one a day)."""

    __tablename__ = "balance_digests"

    connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True
    )
    sent_on: Mapped[date] = mapped_column(Date)
