"""pending transactions: holds, their links to cleared lines, suggestions, matching mode, reversals

Revision ID: 0019
Revises: 0014
Create Date: 2026-12-06 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pending_settings",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("matching", sa.String(length=8), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_pending_settings_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_pending_settings")),
    )
    op.create_table(
        "pending_links",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("account_pk", sa.Uuid(), nullable=False),
        sa.Column("pending_id", sa.String(length=100), nullable=False),
        sa.Column("transaction_id", sa.String(length=100), nullable=False),
        sa.Column("push_operation_key", sa.Uuid(), nullable=True),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("matched_by", sa.String(length=24), nullable=False),
        sa.Column("partial", sa.Boolean(), nullable=False),
        sa.Column("cleared_amount", app.db.Money(precision=18, scale=2), nullable=False),
        sa.Column("amount_delta", app.db.Money(precision=18, scale=2), nullable=True),
        sa.Column("serve_authorized_on", sa.Date(), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("linked_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_pk"],
            ["source_accounts.pk"],
            name=op.f("fk_pending_links_account_pk_source_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_links")),
        sa.UniqueConstraint(
            "account_pk", "transaction_id", name=op.f("uq_pending_links_account_pk")
        ),
    )
    op.create_index(
        "ix_pending_links_account_pending",
        "pending_links",
        ["account_pk", "pending_id"],
        unique=False,
    )
    op.create_index(
        "ix_pending_links_operation", "pending_links", ["push_operation_key"], unique=False
    )

    op.create_table(
        "pending_suggestions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("account_pk", sa.Uuid(), nullable=False),
        sa.Column("pending_id", sa.String(length=100), nullable=False),
        sa.Column("transaction_id", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.String(length=24), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_pk"],
            ["source_accounts.pk"],
            name=op.f("fk_pending_suggestions_account_pk_source_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_suggestions")),
        sa.UniqueConstraint(
            "account_pk",
            "pending_id",
            "transaction_id",
            name=op.f("uq_pending_suggestions_account_pk"),
        ),
    )
    op.create_table(
        "pending_transactions",
        sa.Column("pk", sa.Uuid(), nullable=False),
        sa.Column("account_pk", sa.Uuid(), nullable=False),
        sa.Column("pending_id", sa.String(length=100), nullable=False),
        sa.Column("authorized_on", sa.Date(), nullable=False),
        sa.Column("amount", app.db.Money(precision=18, scale=2), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=False),
        sa.Column("counterparty", sa.String(length=255), nullable=True),
        sa.Column("reference", sa.String(length=255), nullable=True),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("release_reason", sa.String(length=16), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_pk"],
            ["source_accounts.pk"],
            name=op.f("fk_pending_transactions_account_pk_source_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_pending_transactions")),
        sa.UniqueConstraint(
            "account_pk", "pending_id", name=op.f("uq_pending_transactions_account_pk")
        ),
    )
    op.create_index(
        "ix_pending_transactions_status_account",
        "pending_transactions",
        ["status", "account_pk"],
        unique=False,
    )

    op.create_table(
        "transaction_reversals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_pk", sa.Uuid(), nullable=False),
        sa.Column("original_id", sa.String(length=100), nullable=False),
        sa.Column("reversal_id", sa.String(length=100), nullable=False),
        sa.Column("amount", app.db.Money(precision=18, scale=2), nullable=False),
        sa.Column("push_operation_key", sa.Uuid(), nullable=False),
        sa.Column("requested_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_pk"],
            ["source_accounts.pk"],
            name=op.f("fk_transaction_reversals_account_pk_source_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transaction_reversals")),
        sa.UniqueConstraint(
            "account_pk", "original_id", name=op.f("uq_transaction_reversals_account_pk")
        ),
    )


def downgrade() -> None:
    op.drop_table("transaction_reversals")
    op.drop_index("ix_pending_transactions_status_account", table_name="pending_transactions")

    op.drop_table("pending_transactions")
    op.drop_table("pending_suggestions")
    op.drop_index("ix_pending_links_operation", table_name="pending_links")
    op.drop_index("ix_pending_links_account_pending", table_name="pending_links")

    op.drop_table("pending_links")
    op.drop_table("pending_settings")
