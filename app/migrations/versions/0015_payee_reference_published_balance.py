"""payee and reference of a transaction, and the index of its published balance

`bank_transactions.payee_name` (a pushed `counterparty`) and `reference_number` (a pushed
`reference`) are served to QuickBooks as IDX `payeeName` and `referenceNumber`. The partial index
`ix_bank_transactions_account_balance` finds an account's latest sent line that carried a balance
(the balance IDX `/accounts` serves) with one short backward scan. `source_accounts.own_balance`
(and `own_balance_at`) keep the balance the client set through the account API, which a push's
balance no longer overwrites for QuickBooks: IDX serves it until a sent line carries one.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PUBLISHED_BALANCE = sa.text("balance IS NOT NULL AND sent_at IS NOT NULL")


def upgrade() -> None:
    op.add_column(
        "source_accounts",
        sa.Column("own_balance", app.db.Money(precision=18, scale=2), nullable=True),
    )
    op.add_column(
        "source_accounts",
        sa.Column("own_balance_at", app.db.UTCDateTime(timezone=True), nullable=True),
    )
    op.execute("UPDATE source_accounts SET own_balance = balance, own_balance_at = modified_date")
    op.add_column("bank_transactions", sa.Column("payee_name", sa.String(255), nullable=True))
    op.add_column("bank_transactions", sa.Column("reference_number", sa.String(100), nullable=True))
    op.create_index(
        "ix_bank_transactions_account_balance",
        "bank_transactions",
        ["account_pk", "id"],
        unique=False,
        postgresql_where=PUBLISHED_BALANCE,
        sqlite_where=PUBLISHED_BALANCE,
    )


def downgrade() -> None:
    op.drop_index("ix_bank_transactions_account_balance", table_name="bank_transactions")
    op.drop_column("bank_transactions", "reference_number")
    op.drop_column("bank_transactions", "payee_name")
    op.drop_column("source_accounts", "own_balance_at")
    op.drop_column("source_accounts", "own_balance")
