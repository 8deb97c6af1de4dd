"""The SQL of sending and of what Intuit reads: pending transactions becoming sent, the
per-send batch counts (`sent_batches`) and the IDX pages over them (see app/idx/paging.py).
Pushes and their operations: repository.py; the push history's reads: history_repository.py."""

from __future__ import annotations

import typing
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import (
    BigInteger,
    Integer,
    Uuid,
    delete,
    exists,
    func,
    literal,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from app.accounts.tables import SourceAccount
from app.db import UTCDateTime
from app.transactions.tables import BankTransaction, SentBatch


def _window(
    account_pk: uuid.UUID, start: datetime | None, end: datetime | None
) -> list[ColumnElement[bool]]:
    conditions = [BankTransaction.account_pk == account_pk, BankTransaction.sent_at.is_not(None)]
    if start is not None:
        conditions.append(BankTransaction.sent_at >= start)
    if end is not None:
        conditions.append(BankTransaction.sent_at < end)
    return conditions


_SEND_ORDER = (BankTransaction.sent_at, BankTransaction.id)


class PageRow(Protocol):
    """What a pull answers with, read as a plain row (no ORM identity bookkeeping per row)."""

    @property
    def id(self) -> int: ...
    @property
    def transaction_id(self) -> str: ...
    @property
    def cleared_on(self) -> date: ...
    @property
    def description(self) -> str: ...
    @property
    def amount(self) -> Decimal: ...
    @property
    def sent_at(self) -> datetime | None: ...


_PAGE = select(
    BankTransaction.id,
    BankTransaction.transaction_id,
    BankTransaction.cleared_on,
    BankTransaction.description,
    BankTransaction.amount,
    BankTransaction.sent_at,
)


async def sent_between(
    session: AsyncSession,
    account_pk: uuid.UUID,
    start: datetime | None,
    end: datetime | None,
    offset: int,
    limit: int,
) -> list[PageRow]:
    """Sent transactions with start <= sent_at < end, in send order, skipping `offset`."""
    stmt = (
        _PAGE.where(*_window(account_pk, start, end))
        .order_by(*_SEND_ORDER)
        .offset(offset)
        .limit(limit)
    )
    return typing.cast(list[PageRow], list((await session.execute(stmt)).all()))


async def sent_after(
    session: AsyncSession,
    account_pk: uuid.UUID,
    after: tuple[datetime, int],
    end: datetime | None,
    limit: int,
) -> list[PageRow]:
    """The next `limit` sent transactions after the key (sent_at, id), before `end`: a range
    scan of the pulls' index that starts at the key, whatever page it is."""
    stmt = (
        _PAGE.where(
            *_window(account_pk, None, end),
            tuple_(*_SEND_ORDER)
            > tuple_(literal(after[0], UTCDateTime()), literal(after[1], BigInteger())),
        )
        .order_by(*_SEND_ORDER)
        .limit(limit)
    )
    return typing.cast(list[PageRow], list((await session.execute(stmt)).all()))


async def sent_batches(
    session: AsyncSession, account_pk: uuid.UUID, start: datetime | None, end: datetime | None
) -> list[tuple[datetime, int, int]]:
    """(sent_at, rows, changes) of the account's sends in [start, end), in send order."""
    stmt = select(SentBatch.sent_at, SentBatch.row_count, SentBatch.changes).where(
        SentBatch.account_pk == account_pk, SentBatch.row_count > 0
    )
    if start is not None:
        stmt = stmt.where(SentBatch.sent_at >= start)
    if end is not None:
        stmt = stmt.where(SentBatch.sent_at < end)
    rows = (await session.execute(stmt.order_by(SentBatch.sent_at))).all()
    return [(at, int(n), int(changes)) for at, n, changes in rows]


def _add_to_batches(session: AsyncSession, rows: Any) -> Any:
    """INSERT of sent_batches rows from a select of (account_pk, sent_at, row_count, changes)
    that adds to a batch already there."""
    dialect = session.get_bind().dialect.name
    make = postgresql_insert if dialect == "postgresql" else sqlite_insert
    stmt = make(SentBatch).from_select(["account_pk", "sent_at", "row_count", "changes"], rows)
    return stmt.on_conflict_do_update(
        index_elements=["account_pk", "sent_at"],
        set_={
            "row_count": SentBatch.row_count + stmt.excluded.row_count,
            "changes": SentBatch.changes + 1,
        },
    )


async def move_to_batch(
    session: AsyncSession, account_pk: uuid.UUID, moved: Any, at: datetime
) -> None:
    """Keep sent_batches true when rows already sent get sent_at = `at` (a re-serve): `moved`
    is a select of the rows' sent_at, run before their update."""
    counts = (
        select(BankTransaction.sent_at, func.count()).where(moved).group_by(BankTransaction.sent_at)
    )
    total = 0
    for sent_at, n in (await session.execute(counts)).all():
        total += int(n)
        await session.execute(
            update(SentBatch)
            .where(SentBatch.account_pk == account_pk, SentBatch.sent_at == sent_at)
            .values(row_count=SentBatch.row_count - int(n), changes=SentBatch.changes + 1)
            .execution_options(synchronize_session=False)
        )
    if total:
        one = select(
            literal(account_pk, Uuid()),
            literal(at, UTCDateTime()),
            literal(total, Integer()),
            literal(1, Integer()),
        )
        await session.execute(_add_to_batches(session, one))
        await session.execute(
            delete(SentBatch).where(SentBatch.account_pk == account_pk, SentBatch.row_count <= 0)
        )


async def claim_sendable(
    session: AsyncSession, after: uuid.UUID | None, limit: int
) -> list[uuid.UUID]:
    """Connected accounts with pending transactions, locked for this transaction; accounts
    another worker holds are skipped (it is sending them), so workers share the work."""
    stmt = (
        select(SourceAccount.pk)
        .where(
            SourceAccount.status == "connected",
            exists().where(
                BankTransaction.account_pk == SourceAccount.pk, BankTransaction.sent_at.is_(None)
            ),
        )
        .order_by(SourceAccount.pk)
        .limit(limit)
        .with_for_update(of=SourceAccount, skip_locked=True)
    )
    if after is not None:
        stmt = stmt.where(SourceAccount.pk > after)
    return list((await session.execute(stmt)).scalars())


async def any_pending(session: AsyncSession, account_pks: Sequence[uuid.UUID]) -> bool:
    stmt = select(
        exists().where(
            BankTransaction.account_pk.in_(account_pks), BankTransaction.sent_at.is_(None)
        )
    )
    return bool((await session.execute(stmt)).scalar())


async def count_pending(session: AsyncSession) -> int:
    stmt = (
        select(func.count()).select_from(BankTransaction).where(BankTransaction.sent_at.is_(None))
    )
    return int((await session.execute(stmt)).scalar_one())


async def mark_sent(session: AsyncSession, account_pks: Sequence[uuid.UUID], at: datetime) -> int:
    """Every pending transaction of these (locked) accounts becomes visible to Intuit at `at`
    (and is counted in the accounts' batch of `at`)."""
    pending = (
        select(
            BankTransaction.account_pk,
            literal(at, UTCDateTime()),
            func.count(),
            literal(1, Integer()),
        )
        .where(BankTransaction.account_pk.in_(account_pks), BankTransaction.sent_at.is_(None))
        .group_by(BankTransaction.account_pk)
    )
    await session.execute(_add_to_batches(session, pending))
    result = await session.execute(
        update(BankTransaction)
        .where(BankTransaction.account_pk.in_(account_pks), BankTransaction.sent_at.is_(None))
        .values(sent_at=at)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
