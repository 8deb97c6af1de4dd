"""send seq: each sent transaction's place in its batch, so an IDX page starts at a known key

`bank_transactions.send_seq` numbers an account's rows of one sent_at 1..n in id order. The pulls'
index becomes (account_pk, sent_at, send_seq) on sent rows only, and `sent_batches.changes`
(which only told a remembered page cursor whether it still held) goes.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SENT = sa.text("sent_at IS NOT NULL")


def upgrade() -> None:
    op.add_column("bank_transactions", sa.Column("send_seq", sa.Integer(), nullable=True))
    # What is already sent, numbered per batch in id order (both dialects: UPDATE ... FROM and
    # window functions, SQLite 3.33+).
    op.execute(
        "UPDATE bank_transactions SET send_seq = numbered.n FROM ("
        "SELECT id, row_number() OVER (PARTITION BY account_pk, sent_at ORDER BY id) AS n "
        "FROM bank_transactions WHERE sent_at IS NOT NULL) AS numbered "
        "WHERE bank_transactions.id = numbered.id"
    )
    op.drop_index("ix_bank_transactions_account_sent", table_name="bank_transactions")
    op.create_index(
        "ix_bank_transactions_account_sent_seq",
        "bank_transactions",
        ["account_pk", "sent_at", "send_seq"],
        unique=False,
        postgresql_where=SENT,
        sqlite_where=SENT,
    )
    # SQLite (3.35+) drops a column in place: no table copy for either table.
    op.drop_column("sent_batches", "changes")


def downgrade() -> None:
    op.add_column(
        "sent_batches", sa.Column("changes", sa.Integer(), nullable=False, server_default="1")
    )
    op.drop_index("ix_bank_transactions_account_sent_seq", table_name="bank_transactions")
    op.create_index(
        "ix_bank_transactions_account_sent",
        "bank_transactions",
        ["account_pk", "sent_at", "id"],
        unique=False,
    )
    op.drop_column("bank_transactions", "send_seq")
