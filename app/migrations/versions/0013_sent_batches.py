"""sent batches: an account's sent transactions counted per sent_at, for IDX totals and cursors

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 21:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sent_batches",
        sa.Column("account_pk", sa.Uuid(), nullable=False),
        sa.Column("sent_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_pk"],
            ["source_accounts.pk"],
            name=op.f("fk_sent_batches_account_pk_source_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_pk", "sent_at", name=op.f("pk_sent_batches")),
    )
    # What is already sent, counted once.
    op.execute(
        "INSERT INTO sent_batches (account_pk, sent_at, row_count, changes) "
        "SELECT account_pk, sent_at, count(*), 1 FROM bank_transactions "
        "WHERE sent_at IS NOT NULL GROUP BY account_pk, sent_at"
    )


def downgrade() -> None:
    op.drop_table("sent_batches")
