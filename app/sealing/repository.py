"""All SQL of re-sealing: the sealed columns (account numbers, webhook signing secrets) read in
key order, one bounded batch at a time, and written back as given (already sealed)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Text, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.tables import SourceAccount
from app.companies.tables import Company
from app.connections.tables import Connection
from app.webhooks.tables import WebhookEndpoint


def _columns(kind: str) -> tuple[Any, Any, Any]:
    """(table, key column, sealed column) of a kind of sealed value."""
    if kind == "account_numbers":
        return SourceAccount, SourceAccount.pk, SourceAccount.account_number
    return WebhookEndpoint, WebhookEndpoint.id, WebhookEndpoint.secret


async def batch(
    session: AsyncSession, kind: str, after: Any, limit: int, tenant_id: uuid.UUID | None
) -> list[tuple[Any, str]]:
    _, key, column = _columns(kind)
    stmt = select(key, column).where(column.is_not(None)).order_by(key).limit(limit)
    if after is not None:
        stmt = stmt.where(key > after)
    if tenant_id is not None and kind == "account_numbers":
        stmt = stmt.where(
            SourceAccount.connection_id.in_(
                select(Connection.id)
                .join(Company, Company.id == Connection.company_id)
                .where(Company.tenant_id == tenant_id)
            )
        )
    elif tenant_id is not None:
        stmt = stmt.where(WebhookEndpoint.tenant_id == tenant_id)
    return [(k, v) for k, v in (await session.execute(stmt)).all()]


async def write(session: AsyncSession, kind: str, row_key: Any, stored: str, sealed: str) -> bool:
    """Writes `sealed` only where the row still holds `stored` (a concurrent change wins)."""
    table, key, column = _columns(kind)
    result = await session.execute(
        update(table)
        .where(key == row_key, type_coerce(column, Text()) == stored)
        .values({column.key: sealed})
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
