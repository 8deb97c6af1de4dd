"""link credential budget: how many sets a Link session has issued, and its latest one

`link_sessions.credentials_issued` counts the sets "Get credentials" made in the session (at most
`link_credentials_per_session`); `link_sessions.last_credential_id` is the latest, revoked when
the next one is made if nobody has used it yet.

Revision ID: 0017
Revises: 0014
Create Date: 2026-12-06 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("link_sessions") as batch:
        batch.add_column(
            sa.Column("credentials_issued", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("last_credential_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("link_sessions") as batch:
        batch.drop_column("last_credential_id")
        batch.drop_column("credentials_issued")
