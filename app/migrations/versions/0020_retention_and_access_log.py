"""retention: tenants' policies, the destruction log, the access log; sealed account numbers

Adds `retention_policies` (per-tenant overrides of the default periods), `destruction_log`
(counts and dates of what the purge and deletions destroyed), `access_log` (who read or exported a
company's data), `sent_batches.delivered_at` (delivery folded in from the pull log before the
pull log is purged), and widens `source_accounts.account_number` to text so it can be sealed
under BANKFEEDS_SECRET_KEYS like the webhook secrets (existing numbers are sealed when a key is
set; `bankfeeds secrets rotate` does it later otherwise).

Revision ID: 0020
Revises: 0014
Create Date: 2026-12-06 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

from app.config import Settings, get_settings
from app.db import UTCDateTime
from app.vault import PREFIX, keyring, seal

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _settings() -> Settings:
    given = context.config.attributes.get("settings")
    return given if isinstance(given, Settings) else get_settings()


def upgrade() -> None:
    op.create_table(
        "retention_policies",
        sa.Column(
            "tenant_id",
            sa.Uuid(),
            sa.ForeignKey(
                "tenants.id", ondelete="CASCADE", name="fk_retention_policies_tenant_id_tenants"
            ),
            primary_key=True,
        ),
        sa.Column("sent_lines_days", sa.Integer(), nullable=True),
        sa.Column("pull_log_days", sa.Integer(), nullable=True),
        sa.Column("push_operations_days", sa.Integer(), nullable=True),
        sa.Column("webhooks_days", sa.Integer(), nullable=True),
        sa.Column("audit_days", sa.Integer(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_retention_policies"),
    )
    op.create_table(
        "destruction_log",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "tenant_id",
            sa.Uuid(),
            sa.ForeignKey(
                "tenants.id", ondelete="CASCADE", name="fk_destruction_log_tenant_id_tenants"
            ),
            nullable=False,
        ),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("policy", sa.String(32), nullable=False),
        sa.Column("table_name", sa.String(64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=True),
        sa.Column("oldest", UTCDateTime(), nullable=True),
        sa.Column("newest", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_destruction_log"),
    )
    op.create_index("ix_destruction_log_tenant_at", "destruction_log", ["tenant_id", "at"])
    op.create_table(
        "access_log",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "tenant_id",
            sa.Uuid(),
            sa.ForeignKey("tenants.id", ondelete="CASCADE", name="fk_access_log_tenant_id_tenants"),
            nullable=False,
        ),
        sa.Column("environment", sa.String(16), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor_kind", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(300), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("route", sa.String(300), nullable=False),
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_access_log"),
    )
    op.create_index("ix_access_log_tenant_at", "access_log", ["tenant_id", "at"])
    op.add_column("sent_batches", sa.Column("delivered_at", UTCDateTime(), nullable=True))
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":  # SQLite does not enforce a length
        op.alter_column(
            "source_accounts", "account_number", type_=sa.Text(), existing_type=sa.String(64)
        )
    seal_account_numbers(bind, _settings())


def seal_account_numbers(bind: sa.Connection, settings: Settings) -> int:
    """Encrypt every account number still in the clear; answers how many were."""
    fernet = keyring(settings)
    if fernet is None:
        return 0
    accounts = sa.table("source_accounts", sa.column("pk"), sa.column("account_number", sa.Text()))
    rows = bind.execute(
        sa.select(accounts.c.pk, accounts.c.account_number).where(
            accounts.c.account_number.is_not(None),
            sa.not_(accounts.c.account_number.startswith(PREFIX)),
        )
    ).all()
    for pk, number in rows:
        bind.execute(
            accounts.update().where(accounts.c.pk == pk).values(account_number=seal(number, fernet))
        )
    return len(rows)


def downgrade() -> None:
    op.drop_column("sent_batches", "delivered_at")
    op.drop_table("access_log")
    op.drop_table("destruction_log")
    op.drop_table("retention_policies")
