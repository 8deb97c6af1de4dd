"""The SQL of pushes: a push's target and its rows written at once, its operation, the
operations that end (overdue, withdrawn, failed) and the rejected pushes' notes.
Sending and the IDX pages: send_repository.py; the push history: history_repository.py."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any

from sqlalchemy import (
    ARRAY,
    Dialect,
    Integer,
    String,
    Table,
    any_,
    bindparam,
    cast,
    delete,
    exists,
    func,
    insert,
    literal_column,
    select,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.tables import SourceAccount
from app.companies.tables import Company
from app.companies.zone import ZONE_OF
from app.connections.tables import Connection
from app.db import Direct, dialect_insert, json_item, json_rows, uuid_param
from app.kit import scope
from app.kit.principal import Principal
from app.tenants.tables import Tenant
from app.transactions.rules import Accepted
from app.transactions.tables import (
    BankTransaction,
    CertificateSettings,
    PushOperation,
    PushRejection,
)


async def accepted_ids(
    session: AsyncSession, account_pk: uuid.UUID, ids: Sequence[str]
) -> set[str]:
    if not ids:
        return set()
    if session.get_bind().dialect.name == "postgresql":
        # One array parameter rather than a 1000-parameter IN list.
        matches = BankTransaction.transaction_id == any_(cast(list(ids), ARRAY(String)))
    else:
        matches = BankTransaction.transaction_id.in_(ids)
    stmt = select(BankTransaction.transaction_id).where(
        BankTransaction.account_pk == account_pk, matches
    )
    return set((await session.execute(stmt)).scalars())


class DuplicateTransaction(Exception):
    """An id of the push is already stored for the account (the unique constraint said so)."""


# (each a mapped class's Table; typed as a FromClause)
_ROWS: Table = BankTransaction.__table__  # type: ignore[assignment]
_OPERATIONS: Table = PushOperation.__table__  # type: ignore[assignment]
_ACCOUNTS: Table = SourceAccount.__table__  # type: ignore[assignment]
# A push's rows: each item gives these columns (from the `Accepted` field named beside each);
# the push gives the rest (`_PUSH_VALUES`, one value for every row).
_ITEM_FIELDS = {
    _ROWS.c.transaction_id: "id",
    _ROWS.c.cleared_on: "cleared_on",
    _ROWS.c.description: "description",
    _ROWS.c.amount: "amount",
    _ROWS.c.balance: "balance",
    _ROWS.c.transaction_type: "transaction_type",
    _ROWS.c.payee_name: "payee_name",
    _ROWS.c.reference_number: "reference_number",
}
_PUSH_VALUES = (_ROWS.c.account_pk, _ROWS.c.accepted_at, _ROWS.c.push_operation_key)
# Every column a push writes (for tools that load rows shaped as a push's: bench).
ROW_COLUMNS = tuple(c.name for c in (*_ITEM_FIELDS, *_PUSH_VALUES))
_item_values = attrgetter(*_ITEM_FIELDS.values())


def _add_rows(dialect: Dialect) -> Any:
    """INSERT INTO bank_transactions (...) SELECT ... FROM <the rows parameter, one JSON array
    of arrays> ON CONFLICT (account_pk, transaction_id) DO NOTHING: every size of push in one
    statement; a known id is skipped, so the count of rows it wrote tells."""
    rows = json_rows(bindparam("rows", type_=String)).table_valued("value").alias("r")
    values: list[Any] = [json_item(rows.c.value, n, c.type) for n, c in enumerate(_ITEM_FIELDS)]
    values += [bindparam(f"push_{c.key}", type_=c.type) for c in _PUSH_VALUES]
    # WHERE true: SQLite would read the ON of ON CONFLICT as a join's.
    source = select(*values).select_from(rows).where(true())
    return (
        dialect_insert(dialect, _ROWS)
        .from_select([*_ITEM_FIELDS, *_PUSH_VALUES], source)
        .on_conflict_do_nothing(index_elements=[_ROWS.c.account_pk, _ROWS.c.transaction_id])
    )


# The operation row's values, and the account's new latest date (with or without its balance).
_OPERATION_VALUES = [bindparam(f"op_{c.key}", type_=c.type) for c in _OPERATIONS.c]
_ACCOUNT_KEYS = (
    frozenset({"latest_cleared_on"}),
    frozenset({"latest_cleared_on", "balance", "modified_date"}),
)


def _account_values(keys: frozenset[str]) -> dict[Any, Any]:
    return {_ACCOUNTS.c[k]: bindparam(f"set_{k}", type_=_ACCOUNTS.c[k].type) for k in sorted(keys)}


def _whole_push(keys: frozenset[str]) -> Callable[[Dialect], Any]:
    """PostgreSQL: the three writes as one statement (one round trip): WITH added AS (the rows
    RETURNING 1), counted AS (their count), operation AS (INSERT ... SELECT the operation's
    values FROM counted WHERE n = the push's count), account AS (UPDATE ... FROM counted WHERE
    n = ...) SELECT n. The sub-statements of one WITH share a snapshot, so the two conditional
    writes test the count of rows the first returned, not the table."""

    def build(dialect: Dialect) -> Any:
        added = _add_rows(dialect).returning(literal_column("1")).cte("added")
        counted = select(func.count().label("n")).select_from(added).cte("counted")
        whole = counted.c.n == bindparam("op_transaction_count", type_=Integer)
        operation = insert(_OPERATIONS).from_select(
            list(_OPERATIONS.c), select(*_OPERATION_VALUES).where(whole)
        )
        account = (
            update(_ACCOUNTS)
            .where(_ACCOUNTS.c.pk == uuid_param("push_account_pk"), whole)
            .values(_account_values(keys))
        )
        return select(counted.c.n).add_cte(operation.cte("operation"), account.cte("account"))

    return build


_WHOLE_PUSH = {keys: Direct(_whole_push(keys)) for keys in _ACCOUNT_KEYS}
# SQLite (no INSERT or UPDATE inside WITH): the same writes one after another.
_ADD_ROWS = Direct(_add_rows)
_ADD_OPERATION = Direct(
    insert(_OPERATIONS).values(dict(zip(_OPERATIONS.c, _OPERATION_VALUES, strict=True)))
)
_MOVE_ACCOUNT = {
    keys: Direct(
        update(_ACCOUNTS)
        .where(_ACCOUNTS.c.pk == uuid_param("push_account_pk"))
        .values(_account_values(keys))
    )
    for keys in _ACCOUNT_KEYS
}
_FORGET_ROWS = Direct(
    delete(_ROWS).where(
        _ROWS.c.account_pk == uuid_param("push_account_pk"),
        _ROWS.c.push_operation_key == uuid_param("push_push_operation_key"),
    )
)
# The rows parameter's encoders, per dialect: each item column's bind processor (exact cents on
# SQLite, ISO dates), then JSON (decimals and dates as their text).
_ENCODERS: dict[str, list[tuple[int, Any]]] = {}


def _rows_param(dialect: Dialect, items: Sequence[Accepted]) -> str:
    """The push's rows as the one text parameter `_add_rows` reads: a JSON array of one array
    per item, in `_ITEM_FIELDS` order. One text value costs the driver less than an array per
    column (asyncpg encodes each element; numeric ones dearly) and less than a parameter per
    value on either dialect."""
    encoders = _ENCODERS.get(dialect.name)
    if encoders is None:
        processors = [c.type.dialect_impl(dialect).bind_processor(dialect) for c in _ITEM_FIELDS]
        encoders = _ENCODERS[dialect.name] = [(n, p) for n, p in enumerate(processors) if p]
    if len(_ITEM_FIELDS) == 1:  # attrgetter of one name gives the value, not a tuple
        raise AssertionError("a push's rows have more than one column")
    rows: list[Any] = list(map(_item_values, items))
    if encoders:
        columns: list[Any] = list(zip(*rows, strict=True))
        for n, process in encoders:
            columns[n] = map(process, columns[n])
        rows = list(zip(*columns, strict=True))
    return json.dumps(rows, default=str, separators=(",", ":"))


async def store_push(
    session: AsyncSession,
    operation: PushOperation,
    items: Sequence[Accepted],
    account_values: dict[str, Any],
) -> None:
    """The one write of an accepted push, inside the request's transaction, at every size: its
    rows (pending, from one JSON parameter), its operation row and the account's new latest
    date (and balance), as statements built from the tables and run by `Direct`. On PostgreSQL
    the three are one WITH statement (`_whole_push`, one round trip); SQLite runs the same
    three one after another. A known id raises DuplicateTransaction with nothing of the push
    left and the transaction usable (no savepoint: the conflicting rows are skipped, the others
    deleted again)."""
    dialect = session.get_bind().dialect  # no round through the greenlet
    keys = frozenset(account_values)
    params = {
        "rows": _rows_param(dialect, items),
        "push_account_pk": operation.account_pk,
        "push_accepted_at": operation.requested_at,
        "push_push_operation_key": operation.key,
        **{f"op_{c.key}": getattr(operation, c.key) for c in _OPERATIONS.c},
        **{f"set_{k}": v for k, v in account_values.items()},
    }
    if dialect.name == "postgresql":
        row = await _WHOLE_PUSH[keys].first(session, params)
        added = row[0] if row else 0
    else:
        added = await _ADD_ROWS.execute(session, params)
        if added == len(items):
            await _ADD_OPERATION.execute(session, params)
            await _MOVE_ACCOUNT[keys].execute(session, params)
    if added != len(items):  # some ids were known: nothing but those rows was written
        await _FORGET_ROWS.execute(session, params)
        raise DuplicateTransaction


# Built once: every read of a company's pushes (and of one of them) runs it.
_OVERDUE_OF_COMPANY = (
    select(PushOperation)
    .where(
        PushOperation.status == "Pending",
        PushOperation.deadline_at <= bindparam("now"),
        PushOperation.company_id == uuid_param("company_id"),
    )
    .with_for_update()
)


async def overdue_operations(
    session: AsyncSession,
    now: datetime,
    *,
    account_pks: Sequence[uuid.UUID] | None = None,
    company_id: uuid.UUID | None = None,
) -> list[PushOperation]:
    if account_pks is None and company_id is not None:  # every read of a company's pushes
        params = {"company_id": company_id, "now": now}
        return list((await session.execute(_OVERDUE_OF_COMPANY, params)).scalars())
    stmt = select(PushOperation).where(
        PushOperation.status == "Pending", PushOperation.deadline_at <= now
    )
    if account_pks is not None:
        stmt = stmt.where(PushOperation.account_pk.in_(account_pks))
    if company_id is not None:
        stmt = stmt.where(PushOperation.company_id == company_id)
    return list((await session.execute(stmt.with_for_update())).scalars())


async def withdraw_pending(session: AsyncSession, operations: Sequence[PushOperation]) -> None:
    """Forget the unsent transactions of operations that will never be sent."""
    await session.execute(
        delete(BankTransaction).where(
            BankTransaction.account_pk.in_({op.account_pk for op in operations}),
            BankTransaction.sent_at.is_(None),
            BankTransaction.push_operation_key.in_([op.key for op in operations]),
        )
    )


@dataclass(frozen=True, slots=True)
class PushAccount:
    """What a push needs of its account (read with the lock, not as an ORM object)."""

    pk: uuid.UUID
    account_id: str
    status: str
    feed_start_date: date | None
    latest_cleared_on: date | None


@dataclass(frozen=True, slots=True)
class PushTarget:
    account: PushAccount
    company_id: uuid.UUID
    connection_id: uuid.UUID
    time_zone: str
    has_overdue: bool


# Built once: the push's lookups (tenant scope, company, connection, account, time zone, overdue
# operations) in one round trip, locking the account row for the rest of the transaction, run
# straight on the driver (app/db.py `Direct`).
_PUSH_TARGET = Direct(
    select(
        SourceAccount.pk,
        SourceAccount.account_id,
        SourceAccount.status,
        SourceAccount.feed_start_date,
        SourceAccount.latest_cleared_on,
        Company.id,
        Connection.id,
        ZONE_OF,
        exists().where(
            PushOperation.account_pk == SourceAccount.pk,
            PushOperation.status == "Pending",
            PushOperation.deadline_at <= bindparam("now"),
        ),
    )
    .join(Connection, Connection.id == SourceAccount.connection_id)
    .join(Company, Company.id == Connection.company_id)
    .join(Tenant, Tenant.id == Company.tenant_id)
    .where(
        Connection.id == uuid_param("connection_id"),
        Connection.company_id == uuid_param("company_id"),
        *scope.bound(Company),
        SourceAccount.account_id == bindparam("account_id"),
    )
    .with_for_update(of=SourceAccount)
)


async def push_target(
    session: AsyncSession,
    principal: Principal,
    company_id: uuid.UUID,
    connection_id: uuid.UUID,
    account_id: str,
    now: datetime,
) -> PushTarget | None:
    params = scope.params(
        principal,
        company_id=company_id,
        connection_id=connection_id,
        account_id=account_id,
        now=now,
    )
    row = await _PUSH_TARGET.first(session, params)
    if row is None:
        return None
    pk, account, status, start, latest, company, connection, zone, overdue = row
    return PushTarget(
        PushAccount(pk, account, status, start, latest), company, connection, zone, overdue
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


async def pending_operations_of_disconnected(session: AsyncSession) -> list[PushOperation]:
    """Pending operations whose account is disconnected: they can never be sent."""
    gone = select(SourceAccount.pk).where(SourceAccount.status == "disconnected")
    stmt = (
        select(PushOperation)
        .where(PushOperation.status == "Pending", PushOperation.account_pk.in_(gone))
        .with_for_update()
    )
    return list((await session.execute(stmt)).scalars())


async def pending_operations(
    session: AsyncSession, account_pks: Sequence[uuid.UUID]
) -> list[PushOperation]:
    stmt = (
        select(PushOperation)
        .where(PushOperation.account_pk.in_(account_pks), PushOperation.status == "Pending")
        .with_for_update()
    )
    return list((await session.execute(stmt)).scalars())


async def strict_balances(session: AsyncSession, tenant_id: uuid.UUID) -> bool:
    """Whether the tenant refuses pushes that break the running balance (strict mode)."""
    found = await session.get(CertificateSettings, tenant_id)
    return bool(found and found.strict)


async def balance_settings(
    session: AsyncSession, tenant_id: uuid.UUID
) -> CertificateSettings | None:
    return await session.get(CertificateSettings, tenant_id)


def add_balance_settings(session: AsyncSession, row: CertificateSettings) -> None:
    session.add(row)


async def last_line_balance(session: AsyncSession, account_pk: uuid.UUID) -> Decimal | None:
    """The balance after the account's latest line (null when that line carried none)."""
    stmt = (
        select(BankTransaction.balance)
        .where(BankTransaction.account_pk == account_pk)
        .order_by(BankTransaction.cleared_on.desc(), BankTransaction.id.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar()


async def companies_of(
    session: AsyncSession, company_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Company]:
    stmt = select(Company).where(Company.id.in_(company_ids))
    return {c.id: c for c in (await session.execute(stmt)).scalars()}


async def add_rejection(session: AsyncSession, row: PushRejection) -> None:
    session.add(row)
    await session.flush()


async def purge_rejections(session: AsyncSession, before: datetime) -> int:
    stmt = delete(PushRejection).where(PushRejection.requested_at < before)
    return int((await session.execute(stmt)).rowcount)  # type: ignore[attr-defined]
