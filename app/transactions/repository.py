"""All SQL of the transactions domain."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.transactions.tables import BankTransaction


async def sent_between(
    session: AsyncSession,
    account_pk: uuid.UUID,
    start: datetime | None,
    end: datetime | None,
    offset: int,
    limit: int,
) -> tuple[list[BankTransaction], int]:
    """Sent transactions with start <= sent_at < end, in send order (index-only range scan)."""
    conditions = [BankTransaction.account_pk == account_pk, BankTransaction.sent_at.is_not(None)]
    if start is not None:
        conditions.append(BankTransaction.sent_at >= start)
    if end is not None:
        conditions.append(BankTransaction.sent_at < end)
    count = select(func.count()).select_from(BankTransaction).where(*conditions)
    total = int((await session.execute(count)).scalar_one())
    stmt = (
        select(BankTransaction)
        .where(*conditions)
        .order_by(BankTransaction.sent_at, BankTransaction.id)
        .offset(offset)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars()), total
