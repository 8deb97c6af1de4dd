"""The SQL of sending: pending transactions becoming sent, the per-send batch counts
(`sent_batches` rows) and each sent row's place in its batch (`send_seq`) that the IDX pages read
(app/idx/repository.py, app/idx/paging.py), and re-serving sent rows. Pushes and their
operations: repository.py; the push history's reads: history_repository.py."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Integer,
    Uuid,
    and_,
    case,
    delete,
    exists,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from app.accounts.tables import SourceAccount
from app.db import UTCDateTime
from app.transactions.tables import BankTransaction, SentBatch


def _add_to_batches(session: AsyncSession, rows: Any) -> Any:
    """INSERT of sent_batches rows from a select of (account_pk, sent_at, row_count) that adds
    to a batch already there."""
    dialect = session.get_bind().dialect.name
    make = postgresql_insert if dialect == "postgresql" else sqlite_insert
    stmt = make(SentBatch).from_select(["account_pk", "sent_at", "row_count"], rows)
    return stmt.on_conflict_do_update(
        index_elements=["account_pk", "sent_at"],
        set_={"row_count": SentBatch.row_count + stmt.excluded.row_count},
    )


async def _send_rows(
    session: AsyncSession, rows: ColumnElement[bool], at: datetime, base: dict[uuid.UUID, int]
) -> int:
    """The rows matching `rows` join their account's batch `at`: sent_at = at and send_seq =
    base (the batch's rows already there, none unless given) + their place in id order. One
    write a row. The numbers are dense and in id order unless a row already in the batch has a
    higher id than one joining it: then `renumber` the batch afterwards."""
    place: ColumnElement[Any] = func.row_number().over(
        partition_by=BankTransaction.account_pk, order_by=BankTransaction.id
    )
    if base:
        place = place + case(
            *((BankTransaction.account_pk == pk, n) for pk, n in base.items()), else_=0
        )
    numbered = select(BankTransaction.id.label("id"), place.label("seq")).where(rows).subquery()
    result = await session.execute(
        update(BankTransaction)
        # `rows` on both sides: the join is then between two scans of the same few rows (the
        # pending index), not the numbered rows against the whole table (a full scan per
        # chunk: 24 s instead of 10 s for the 1M-transaction send before this was said).
        .where(rows, BankTransaction.id == numbered.c.id)
        .values(sent_at=at, send_seq=numbered.c.seq)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def _batch_sizes(
    session: AsyncSession, account_pks: Sequence[uuid.UUID], at: datetime
) -> dict[uuid.UUID, int]:
    """The accounts' batches of `at` already there (normally none), with their rows."""
    stmt = select(SentBatch.account_pk, SentBatch.row_count).where(
        SentBatch.account_pk.in_(account_pks), SentBatch.sent_at == at
    )
    return {pk: int(n) for pk, n in (await session.execute(stmt)).all()}


async def renumber(
    session: AsyncSession, account_pks: Sequence[uuid.UUID], sent_ats: Sequence[datetime]
) -> None:
    """Make these batches' send_seq dense 1..n in id order again (after rows left or joined
    them out of order), writing only the rows whose number changes."""
    if not account_pks or not sent_ats:
        return
    batch = (BankTransaction.account_pk, BankTransaction.sent_at)
    batches = and_(
        BankTransaction.account_pk.in_(account_pks),
        BankTransaction.sent_at.in_([literal(at, UTCDateTime()) for at in sent_ats]),
    )
    numbered = (
        select(
            BankTransaction.id.label("id"),
            func.row_number().over(partition_by=batch, order_by=BankTransaction.id).label("seq"),
        )
        .where(batches)
        .subquery()
    )
    await session.execute(
        update(BankTransaction)
        .where(
            batches,  # both sides read the batches' rows only (see _send_rows)
            BankTransaction.id == numbered.c.id,
            BankTransaction.send_seq.is_distinct_from(numbered.c.seq),
        )
        .values(send_seq=numbered.c.seq)
        .execution_options(synchronize_session=False)
    )


async def move_to_batch(
    session: AsyncSession, account_pk: uuid.UUID, moved: ColumnElement[bool], at: datetime
) -> int:
    """Rows already sent (`moved`, of the locked account) are published again at `at` (a
    re-serve): sent_batches follows them, and the batches they left (holes) and the one they
    joined (possibly after rows of higher ids) are numbered again. Returns how many moved."""
    counts = (
        select(BankTransaction.sent_at, func.count()).where(moved).group_by(BankTransaction.sent_at)
    )
    left: dict[datetime, int] = {}
    for sent_at, n in (await session.execute(counts)).all():
        assert sent_at is not None  # `moved` are sent rows
        left[sent_at] = int(n)
    total = sum(left.values())
    if not total:
        return 0
    # The rows of `at` that stay there come first (moved rows may be among them: a re-serve
    # at the same instant as the last one).
    staying = (await _batch_sizes(session, [account_pk], at)).get(account_pk, 0) - left.get(at, 0)
    for sent_at, n in left.items():
        await session.execute(
            update(SentBatch)
            .where(SentBatch.account_pk == account_pk, SentBatch.sent_at == sent_at)
            .values(row_count=SentBatch.row_count - n)
            .execution_options(synchronize_session=False)
        )
    one = select(literal(account_pk, Uuid()), literal(at, UTCDateTime()), literal(total, Integer()))
    await session.execute(_add_to_batches(session, one))
    await session.execute(
        delete(SentBatch).where(SentBatch.account_pk == account_pk, SentBatch.row_count <= 0)
    )
    sent = await _send_rows(session, moved, at, {account_pk: staying} if staying else {})
    await renumber(session, [account_pk], [*left, at])
    return sent


def _sent_between(account_pk: uuid.UUID, first: date, last: date) -> ColumnElement[bool]:
    """The account's sent transactions cleared in [first, last]: what a re-serve publishes."""
    return and_(
        BankTransaction.account_pk == account_pk,
        BankTransaction.sent_at.is_not(None),
        BankTransaction.cleared_on >= first,
        BankTransaction.cleared_on <= last,
    )


async def count_sent_between(
    session: AsyncSession, account_pk: uuid.UUID, first: date, last: date
) -> int:
    stmt = (
        select(func.count())
        .select_from(BankTransaction)
        .where(_sent_between(account_pk, first, last))
    )
    return int((await session.execute(stmt)).scalar_one())


async def republish(
    session: AsyncSession, account_pk: uuid.UUID, first: date, last: date, at: datetime
) -> int:
    """Sent transactions cleared in [first, last] are published again: modifiedDate = at."""
    return await move_to_batch(session, account_pk, _sent_between(account_pk, first, last), at)


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
    """Every pending transaction of these (locked) accounts becomes visible to Intuit at `at`,
    counted in and numbered after the accounts' batch of `at` (normally new: one write a row)."""
    pending = and_(BankTransaction.account_pk.in_(account_pks), BankTransaction.sent_at.is_(None))
    # A batch of `at` already there (a second send at the same instant): numbered after it.
    there = await _batch_sizes(session, account_pks, at)
    counts = (
        select(BankTransaction.account_pk, literal(at, UTCDateTime()), func.count())
        .where(pending)
        .group_by(BankTransaction.account_pk)
    )
    await session.execute(_add_to_batches(session, counts))
    sent = await _send_rows(session, pending, at, there)
    # It may hold rows of higher ids (moved there by a re-serve): then number it again.
    await renumber(session, list(there), [at])
    return sent
