"""Accepted bank transactions: pending until sent, then visible to Intuit from `sent_at`."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, Money, UTCDateTime

# SQLite only auto-increments an INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class BankTransaction(Base):
    __tablename__ = "bank_transactions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_pk: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("source_accounts.pk", ondelete="CASCADE")
    )
    transaction_id: Mapped[str] = mapped_column(String(100))
    cleared_on: Mapped[date] = mapped_column(Date)
    description: Mapped[str] = mapped_column(String(1000))
    amount: Mapped[Decimal] = mapped_column(Money())
    balance: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    transaction_type: Mapped[str | None] = mapped_column(String(8), nullable=True)
    # A pushed counterparty and reference, trimmed (rules.PAYEE_MAX, rules.REFERENCE_MAX): IDX
    # payeeName and referenceNumber.
    payee_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    reference_number: Mapped[str | None] = mapped_column(String(100), nullable=True)
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Its place in its batch (account_pk, sent_at), 1..n in id order: (sent_at, send_seq) is
    # (sent_at, id) order, and an IDX page starts at a known (sent_at, send_seq) whatever its
    # number. Null while pending; set by every statement that sends or re-serves.
    send_seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The push operation that brought it. Deliberately no foreign key or index: every row would
    # pay for them, and operations go away only with their account, which takes its rows along.
    push_operation_key: Mapped[uuid.UUID | None] = mapped_column(nullable=True)

    __table_args__ = (
        UniqueConstraint("account_pk", "transaction_id"),
        # Intuit's pulls: an account's sent transactions by modifiedDate (= sent_at), then their
        # place in the batch. Sent rows only: a push (pending rows) does not pay for it.
        Index(
            "ix_bank_transactions_account_sent_seq",
            "account_pk",
            "sent_at",
            "send_seq",
            postgresql_where=text("sent_at IS NOT NULL"),
            sqlite_where=text("sent_at IS NOT NULL"),
        ),
        # The balance QuickBooks sees: an account's latest sent line that carried one.
        Index(
            "ix_bank_transactions_account_balance",
            "account_pk",
            "id",
            postgresql_where=text("balance IS NOT NULL AND sent_at IS NOT NULL"),
            sqlite_where=text("balance IS NOT NULL AND sent_at IS NOT NULL"),
        ),
        # The daily send: only the pending ones, which are few next to the sent ones.
        Index(
            "ix_bank_transactions_pending",
            "account_pk",
            "id",
            postgresql_where=text("sent_at IS NULL"),
            sqlite_where=text("sent_at IS NULL"),
        ),
    )


class SentBatch(Base):
    """How many of an account's sent transactions carry one sent_at (one send, or one re-serve):
    kept by every statement that sends or re-serves, in its transaction. An IDX page's
    totalResults is the sum over the window (a few rows, not a count of the window), and the
    batch where a page starts is found by summing the batches before it."""

    __tablename__ = "sent_batches"

    account_pk: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("source_accounts.pk", ondelete="CASCADE"), primary_key=True
    )
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    row_count: Mapped[int] = mapped_column(Integer)
    # When QuickBooks had fetched all of the batch, folded in from the pull log by the retention
    # purge before it forgets the pulls (the sent-lines policy counts from it). Null: not known.
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


# What QuickBooks fetched: one row per IDX transactions answer (the pull log), written by the
# IDX API (app/idx/repository.py). A pull is one INSERT, never a write per transaction: the rows
# an answer carried are exactly the account's sent transactions between its first and last
# (sent_at, id) keys, because every answer is one contiguous slice of that order. A transaction
# is *delivered* once a successful pull's slice covers its key (history_repository.delivered_at).
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


class PushOperation(Base):
    """One accepted push: Pending until its transactions are sent, then Success (or Failed,
    TimedOut). Rejected pushes store nothing, so they have no operation."""

    __tablename__ = "push_operations"

    key: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    company_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE")
    )
    account_pk: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("source_accounts.pk", ondelete="CASCADE")
    )
    account_id: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int] = mapped_column(Integer)
    transaction_count: Mapped[int] = mapped_column(Integer)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    timeout_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    error_message: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    # When QuickBooks had fetched every one of its transactions (filled when first seen so).
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    warnings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)

    __table_args__ = (
        Index("ix_push_operations_company_requested", "company_id", "requested_at"),
        Index("ix_push_operations_account_status", "account_pk", "status"),
        Index(
            "ix_push_operations_pending_deadline",
            "deadline_at",
            postgresql_where=text("status = 'Pending'"),
            sqlite_where=text("status = 'Pending'"),
        ),
    )


class PushRejection(Base):
    """A push the rules refused: nothing of it was stored but this note, kept for support teams
    (the portal shows it) and purged after 30 days by the purge job."""

    __tablename__ = "push_rejections"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    company_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE")
    )
    account_pk: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("source_accounts.pk", ondelete="CASCADE")
    )
    account_id: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    transaction_count: Mapped[int] = mapped_column(Integer)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)

    __table_args__ = (
        Index("ix_push_rejections_company_requested", "company_id", "requested_at"),
        Index("ix_push_rejections_requested", "requested_at"),
    )


class CertificateSettings(Base):
    """A tenant's choice: refuse pushes whose line balances break the running balance (strict),
    or only warn through the certificates (the default). A rule of the push, so its setting
    lives here; the certificates' API reads and sets it through transactions/service.py."""

    __tablename__ = "certificate_settings"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    strict: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
