"""All SQL of the IDX API: what QuickBooks reads and changes, scoped by what its credential
grants (an IdxPrincipal: one connection of one tenant), then the pull log's row of each answer
(read back by feed health, app/feeds/repository.py).

The pages of transactions (`sent_batches`, `sent_from`) read the batches a send writes
(transactions/send_repository.py); app/idx/paging.py walks them.
"""

from __future__ import annotations

import typing
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import Integer, case, func, insert, literal, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from app.accounts.tables import SourceAccount
from app.companies.tables import Company
from app.companies.zone import ZONE_OF
from app.connections.tables import Connection
from app.db import UTCDateTime, uuid_param
from app.kit import scope
from app.kit.principal import IdxPrincipal
from app.tenants.tables import Tenant
from app.transactions.tables import BankTransaction, IdxPull, SentBatch


async def accounts_page(
    session: AsyncSession, principal: IdxPrincipal, offset: int, limit: int
) -> tuple[list[SourceAccount], int]:
    """A page of the connection's accounts, as QuickBooks lists them."""
    where = SourceAccount.connection_id == principal.connection_id
    total = (
        await session.execute(select(func.count()).select_from(SourceAccount).where(where))
    ).scalar_one()
    stmt = (
        select(SourceAccount)
        .where(where)
        .order_by(SourceAccount.created_at, SourceAccount.account_id)
        .offset(offset)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars()), int(total)


async def published_balances(
    session: AsyncSession, pks: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[Decimal, date]]:
    """Per account, the balance of its latest sent line that carried one (in the order the lines
    were accepted, so a re-serve of old lines does not bring an old balance back) and that line's
    date. Lines still pending never count: QuickBooks cannot see them yet."""
    if not pks:
        return {}
    t = BankTransaction
    latest = (
        select(func.max(t.id))
        .where(t.account_pk == SourceAccount.pk, t.balance.is_not(None), t.sent_at.is_not(None))
        .scalar_subquery()
    )
    ids = select(latest).where(SourceAccount.pk.in_(pks))
    stmt = select(t.account_pk, t.balance, t.cleared_on).where(t.id.in_(ids))
    return {
        pk: (balance, on)
        for pk, balance, on in (await session.execute(stmt)).all()
        if balance is not None
    }


async def mark_listed(session: AsyncSession, pks: Sequence[uuid.UUID], at: datetime) -> None:
    """Intuit listed these accounts: remember when, and pending ones become connecting."""
    if not pks:
        return
    await session.execute(
        update(SourceAccount)
        .where(SourceAccount.pk.in_(pks))
        .values(
            last_listed_at=at,
            status=case(
                (SourceAccount.status == "pending", "connecting"), else_=SourceAccount.status
            ),
        )
    )


async def account_for_update(
    session: AsyncSession, principal: IdxPrincipal, pk: uuid.UUID
) -> SourceAccount | None:
    """An account of the connection, locked for the rest of the pull's transaction."""
    stmt = (
        select(SourceAccount)
        .where(SourceAccount.connection_id == principal.connection_id, SourceAccount.pk == pk)
        .with_for_update()
    )
    return (await session.execute(stmt)).scalar_one_or_none()


# The zone of the connection's company (app/companies/zone.py), read once per account (its
# first query fixes its feedStartDate): built once.
_ZONE = (
    select(ZONE_OF)
    .select_from(Connection)
    .join(Company, Company.id == Connection.company_id)
    .join(Tenant, Tenant.id == Company.tenant_id)
    .where(Connection.id == uuid_param("connection_id"), *scope.bound(Company))
)


async def company_zone(session: AsyncSession, principal: IdxPrincipal) -> str | None:
    params = scope.params(principal, connection_id=principal.connection_id)
    return (await session.execute(_ZONE, params)).scalar_one_or_none()


# ---- the pages of transactions (app/idx/paging.py) ----------------------------------------------
# They read what a send writes (transactions/send_repository.py): the account's sent rows, each
# numbered in its batch (`send_seq`), and the per-send batch counts (`sent_batches`).


def _window(
    account_pk: uuid.UUID, start: datetime | None, end: datetime | None
) -> list[ColumnElement[bool]]:
    conditions = [BankTransaction.account_pk == account_pk, BankTransaction.sent_at.is_not(None)]
    if start is not None:
        conditions.append(BankTransaction.sent_at >= start)
    if end is not None:
        conditions.append(BankTransaction.sent_at < end)
    return conditions


# An account's sent rows in (sent_at, send_seq) order: the same as (sent_at, id) order, read
# straight off the pulls' index.
_SEND_ORDER = (BankTransaction.sent_at, BankTransaction.send_seq)


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
    @property
    def payee_name(self) -> str | None: ...
    @property
    def reference_number(self) -> str | None: ...


_PAGE = select(
    BankTransaction.id,
    BankTransaction.transaction_id,
    BankTransaction.cleared_on,
    BankTransaction.description,
    BankTransaction.amount,
    BankTransaction.sent_at,
    BankTransaction.payee_name,
    BankTransaction.reference_number,
)


async def sent_from(
    session: AsyncSession,
    account_pk: uuid.UUID,
    batch: datetime,
    skip: int,
    end: datetime | None,
    limit: int,
) -> list[PageRow]:
    """The `limit` sent transactions that follow the first `skip` rows of the batch `batch`,
    before `end`, in send order: a range scan of the pulls' index that starts at the key
    (batch, skip), whatever page it is."""
    stmt = (
        _PAGE.where(
            *_window(account_pk, None, end),
            tuple_(*_SEND_ORDER) > tuple_(literal(batch, UTCDateTime()), literal(skip, Integer())),
        )
        .order_by(*_SEND_ORDER)
        .limit(limit)
    )
    return typing.cast(list[PageRow], list((await session.execute(stmt)).all()))


async def sent_batches(
    session: AsyncSession, account_pk: uuid.UUID, start: datetime | None, end: datetime | None
) -> list[tuple[datetime, int]]:
    """(sent_at, rows) of the account's sends in [start, end), in send order."""
    stmt = select(SentBatch.sent_at, SentBatch.row_count).where(
        SentBatch.account_pk == account_pk, SentBatch.row_count > 0
    )
    if start is not None:
        stmt = stmt.where(SentBatch.sent_at >= start)
    if end is not None:
        stmt = stmt.where(SentBatch.sent_at < end)
    rows = (await session.execute(stmt.order_by(SentBatch.sent_at))).all()
    return [(at, int(n)) for at, n in rows]


async def record_pull(session: AsyncSession, values: dict[str, Any]) -> None:
    """One row per answer: the whole cost of a delivery receipt on the IDX hot path."""
    await session.execute(insert(IdxPull), [values])
