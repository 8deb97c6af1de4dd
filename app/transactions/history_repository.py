"""The SQL of the push history: push operations read back, and each transaction's delivery
state derived from the pull log (`delivery.delivered_at`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from app.db import uuid_param
from app.transactions.delivery import delivered_at
from app.transactions.tables import BankTransaction, PushOperation

# Built once: each read of a push operation runs it.
_OPERATION = select(PushOperation).where(
    PushOperation.company_id == uuid_param("company_id"), PushOperation.key == uuid_param("key")
)


async def operation(
    session: AsyncSession, company_id: uuid.UUID, key: uuid.UUID
) -> PushOperation | None:
    params = {"company_id": company_id, "key": key}
    return (await session.execute(_OPERATION, params)).scalar_one_or_none()


async def operations_page(
    session: AsyncSession,
    company_id: uuid.UUID,
    where: Sequence[ColumnElement[bool]],
    order: Sequence[ColumnElement[Any]],
    offset: int,
    limit: int,
) -> tuple[list[PushOperation], int]:
    conditions = [PushOperation.company_id == company_id, *where]
    count = select(func.count()).select_from(PushOperation).where(*conditions)
    total = int((await session.execute(count)).scalar_one())
    stmt = select(PushOperation).where(*conditions).order_by(*order).offset(offset).limit(limit)
    return list((await session.execute(stmt)).scalars()), total


def state_filter(status: str | None, delivered: Any) -> list[ColumnElement[bool]]:
    """The delivery-state filter: pending, sent (not yet fetched) or delivered."""
    if status == "pending":
        return [BankTransaction.sent_at.is_(None)]
    if status == "sent":
        return [BankTransaction.sent_at.is_not(None), delivered.is_(None)]
    if status == "delivered":
        return [BankTransaction.sent_at.is_not(None), delivered.is_not(None)]
    return []


async def account_transactions(
    session: AsyncSession, account_pk: uuid.UUID, status: str | None, offset: int, limit: int
) -> tuple[list[tuple[BankTransaction, datetime | None]], int]:
    """A page of the account's transactions, newest first, each with its deliveredOnUtc."""
    delivered = delivered_at()
    conditions = [BankTransaction.account_pk == account_pk, *state_filter(status, delivered)]
    count = select(func.count()).select_from(BankTransaction).where(*conditions)
    total = int((await session.execute(count)).scalar_one())
    stmt = (
        select(BankTransaction, delivered)
        .where(*conditions)
        .order_by(BankTransaction.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return [(t, at) for t, at in (await session.execute(stmt)).all()], total


async def operations_delivery(
    session: AsyncSession, operations: Sequence[PushOperation]
) -> dict[uuid.UUID, tuple[int, int, datetime | None]]:
    """For each operation: (transactions, delivered, when the last was delivered)."""
    if not operations:
        return {}
    delivered = delivered_at()
    stmt = (
        select(
            BankTransaction.push_operation_key,
            func.count(),
            func.count(delivered),
            func.max(delivered),
        )
        .where(
            BankTransaction.account_pk.in_({op.account_pk for op in operations}),
            BankTransaction.push_operation_key.in_([op.key for op in operations]),
        )
        .group_by(BankTransaction.push_operation_key)
    )
    return {
        key: (int(total), int(done), last)
        for key, total, done, last in (await session.execute(stmt)).all()
    }
