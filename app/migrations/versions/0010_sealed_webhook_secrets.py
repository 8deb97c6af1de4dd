"""webhook signing secrets sealed at rest

Widens webhook_endpoints.secret to text (a Fernet token is longer than the secret) and, when
BANKFEEDS_SECRET_KEYS is set, encrypts every secret still stored in the clear. With no key set
the rows are left as they are; run `bankfeeds migrate` again after setting a key, or rely on
app/vault.py sealing each secret written from then on (docs/SECURITY.md).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 20:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

from app.config import Settings, get_settings
from app.vault import PREFIX, keyring, seal

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _settings() -> Settings:
    given = context.config.attributes.get("settings")
    return given if isinstance(given, Settings) else get_settings()


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":  # SQLite does not enforce a length
        op.alter_column(
            "webhook_endpoints", "secret", type_=sa.Text(), existing_type=sa.String(100)
        )
    seal_existing(bind, _settings())


def seal_existing(bind: sa.Connection, settings: Settings) -> int:
    """Encrypt every secret still in the clear; answers how many were."""
    fernet = keyring(settings)
    if fernet is None:
        return 0
    endpoints = sa.table("webhook_endpoints", sa.column("id"), sa.column("secret", sa.Text()))
    rows = bind.execute(
        sa.select(endpoints.c.id, endpoints.c.secret).where(
            sa.not_(endpoints.c.secret.startswith(PREFIX))
        )
    ).all()
    for row_id, secret in rows:
        bind.execute(
            endpoints.update().where(endpoints.c.id == row_id).values(secret=seal(secret, fernet))
        )
    return len(rows)


def downgrade() -> None:
    # Sealed secrets stay sealed (decrypting them needs the keys); the column stays text.
    pass
