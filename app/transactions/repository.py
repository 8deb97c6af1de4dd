"""All SQL of the transactions domain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from app.accounts.tables import SourceAccount
from app.transactions.tables import BankTransaction, PushOperation


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


async def accepted_ids(
    session: AsyncSession, account_pk: uuid.UUID, ids: Sequence[str]
) -> set[str]:
    if not ids:
        return set()
    stmt = select(BankTransaction.transaction_id).where(
        BankTransaction.account_pk == account_pk, BankTransaction.transaction_id.in_(ids)
    )
    return set((await session.execute(stmt)).scalars())


async def insert_many(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """One multi-row INSERT (executemany) for a whole push."""
    await session.execute(insert(BankTransaction), rows)


async def add_operation(session: AsyncSession, operation: PushOperation) -> None:
    session.add(operation)
    await session.flush()


async def overdue_operations(
    session: AsyncSession,
    now: datetime,
    *,
    account_pk: uuid.UUID | None = None,
    company_id: uuid.UUID | None = None,
) -> list[PushOperation]:
    stmt = select(PushOperation).where(
        PushOperation.status == "Pending", PushOperation.deadline_at <= now
    )
    if account_pk is not None:
        stmt = stmt.where(PushOperation.account_pk == account_pk)
    if company_id is not None:
        stmt = stmt.where(PushOperation.company_id == company_id)
    return list((await session.execute(stmt.with_for_update())).scalars())


async def withdraw_pending(session: AsyncSession, operation_keys: Sequence[uuid.UUID]) -> None:
    """Forget the unsent transactions of operations that will never be sent."""
    await session.execute(
        delete(BankTransaction).where(
            BankTransaction.push_operation_key.in_(operation_keys),
            BankTransaction.sent_at.is_(None),
        )
    )


async def refresh_latest_cleared(session: AsyncSession, account_pks: Sequence[uuid.UUID]) -> None:
    latest = (
        select(func.max(BankTransaction.cleared_on))
        .where(BankTransaction.account_pk == SourceAccount.pk)
        .scalar_subquery()
    )
    await session.execute(
        update(SourceAccount)
        .where(SourceAccount.pk.in_(account_pks))
        .values(latest_cleared_on=latest)
        .execution_options(synchronize_session=False)
    )


async def operation(
    session: AsyncSession, company_id: uuid.UUID, key: uuid.UUID
) -> PushOperation | None:
    stmt = select(PushOperation).where(
        PushOperation.company_id == company_id, PushOperation.key == key
    )
    return (await session.execute(stmt)).scalar_one_or_none()


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


async def account_transactions(
    session: AsyncSession, account_pk: uuid.UUID, status: str | None, offset: int, limit: int
) -> tuple[list[BankTransaction], int]:
    conditions = [BankTransaction.account_pk == account_pk]
    if status == "pending":
        conditions.append(BankTransaction.sent_at.is_(None))
    elif status == "sent":
        conditions.append(BankTransaction.sent_at.is_not(None))
    count = select(func.count()).select_from(BankTransaction).where(*conditions)
    total = int((await session.execute(count)).scalar_one())
    stmt = (
        select(BankTransaction)
        .where(*conditions)
        .order_by(BankTransaction.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars()), total
