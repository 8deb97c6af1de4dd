"""webhook egress: circuit breaker columns, attempt errors as categories

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("failing_since", app.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("paused_until", app.db.UTCDateTime(timezone=True), nullable=True)
        )
    # Earlier attempts stored the connection error's class name: keep only its category.
    attempts = sa.table(
        "webhook_attempts", sa.column("error", sa.String), sa.column("status_code", sa.Integer)
    )
    failed = attempts.c.error.is_not(None)
    op.execute(
        attempts.update().where(failed, attempts.c.status_code.is_not(None)).values(error="status")
    )
    op.execute(
        attempts.update()
        .where(failed, attempts.c.status_code.is_(None), attempts.c.error.like("%Timeout%"))
        .values(error="timeout")
    )
    op.execute(
        attempts.update()
        .where(failed, attempts.c.status_code.is_(None), attempts.c.error != "timeout")
        .values(error="refused")
    )


def downgrade() -> None:
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.drop_column("paused_until")
        batch_op.drop_column("failing_since")
