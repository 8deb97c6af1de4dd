"""company link otps: the single-use password of Company.redirect

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 20:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "company_link_otps",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("otp_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_company_link_otps_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_company_link_otps")),
        sa.UniqueConstraint("otp_hash", name=op.f("uq_company_link_otps_otp_hash")),
    )
    with op.batch_alter_table("company_link_otps", schema=None) as batch_op:
        batch_op.create_index("ix_company_link_otps_company_id", ["company_id"], unique=False)
        batch_op.create_index("ix_company_link_otps_expires_at", ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("company_link_otps", schema=None) as batch_op:
        batch_op.drop_index("ix_company_link_otps_expires_at")
        batch_op.drop_index("ix_company_link_otps_company_id")
    op.drop_table("company_link_otps")
