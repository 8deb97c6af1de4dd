"""Engine, metadata and the column types every table shares (exact money, aware UTC time)."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
from sqlalchemy import BigInteger, DateTime, Dialect, MetaData, Numeric, Uuid, bindparam, event
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.types import TypeDecorator

from app.config import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


def uuid_param(name: str) -> BindParameter[uuid.UUID]:
    """A bound id for a statement built once at import. The type is explicit: a foreign-key
    column has no type until its table is resolved, and SQLite's driver needs the UUID turned
    into text."""
    return bindparam(name, type_=Uuid())


# The one spelling ids are given out in (either case): `uuid.UUID` also takes `urn:uuid:`,
# braces, no dashes and Unicode digits, which would make one resource answer under many names.
_CANONICAL_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


def parse_uuid(value: str) -> uuid.UUID | None:
    """A path id in its canonical spelling, or None (which the caller answers as 404)."""
    if not _CANONICAL_UUID.fullmatch(value):
        return None
    return uuid.UUID(value)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and always hands back aware UTC (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Money(TypeDecorator[Decimal]):
    """Exact two-place amounts: NUMERIC(18,2) on PostgreSQL, integer cents on SQLite.

    SQLite has no exact decimal type; integer minor units keep sums and comparisons exact.
    """

    impl = Numeric(18, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(18, 2, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "sqlite":
            cents = value * 100
            if cents != cents.to_integral_value():
                raise ValueError("money has at most two decimal places")
            return int(cents)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(int(value)) / 100).quantize(Decimal("0.01"))
        return Decimal(value)


def make_engine(settings: Settings) -> AsyncEngine:
    url = settings.effective_database_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url, connect_args={"timeout": 30}, pool_timeout=settings.db_pool_timeout_seconds
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # We issue BEGIN ourselves (below), so the driver must not.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _begin_immediate(conn: Any) -> None:
            # SQLite cannot upgrade a read transaction to a write one while another writer
            # commits (it fails at once instead of waiting). Taking the write lock up front makes
            # concurrent requests queue on the busy timeout: the embedded mode is serial, not flaky.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    connect_args: dict[str, Any] = {}
    if settings.db_schema:
        connect_args["server_settings"] = {"search_path": settings.db_schema}
    if settings.db_external_pooler:
        connect_args.update(external_pooler_args())
    return create_async_engine(
        url,
        connect_args=connect_args,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_timeout=settings.db_pool_timeout_seconds,
        # No pre-ping round trip per request: a connection that died with a restarted server
        # fails its request with 503 (canBeRetried) and is dropped from the pool.
        pool_recycle=1800,
    )


def external_pooler_args() -> dict[str, Any]:
    """asyncpg behind PgBouncer in transaction mode: each transaction may land on another server
    connection, so no statement may be cached across transactions (asyncpg's cache and
    SQLAlchemy's), and the statements SQLAlchemy prepares get names no two connections share."""
    return {
        "statement_cache_size": 0,
        "prepared_statement_cache_size": 0,
        "prepared_statement_name_func": lambda: f"__asyncpg_{uuid.uuid4().hex}__",
    }


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit on success, roll back on error.

    Only edges (routes, jobs, CLI) call it; services never commit.
    """
    async with sessions() as session, session.begin():
        yield session


async def insert_ignoring_conflicts(
    session: AsyncSession,
    model: type[Base],
    rows: list[dict[str, Any]],
    *,
    conflict_columns: list[str],
    returning: Any,
) -> list[Any]:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING, on PostgreSQL and SQLite alike."""
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(model)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(model)
    stmt = stmt.on_conflict_do_nothing(index_elements=conflict_columns).returning(returning)
    result = await session.execute(stmt, rows)
    return list(result.scalars())


# SQLSTATE classes of a database that is going away or not there yet: connection exception,
# operator intervention (admin/crash shutdown, cannot connect now), insufficient resources.
OUTAGE_CLASSES = {"08", "57", "53"}


# What asyncpg raises when the server or the connection is gone (or left mid-operation by an
# earlier failure): the connection must not go back to the pool.
_LOST = (asyncpg.InterfaceError, asyncpg.InternalClientError, OSError)


@asynccontextmanager
async def driver_errors(connection: AsyncConnection, sql: str) -> AsyncIterator[None]:
    """asyncpg's errors raised as SQLAlchemy raises its own, for statements run on the driver:
    a lost server invalidates the pooled connection (the next request gets a new one) and is an
    OperationalError (503); a constraint is an IntegrityError; anything else a DBAPIError
    carrying the driver's error. Parameters are never shown. A statement cancelled half-way
    (the client went away) leaves the connection mid-protocol: it is invalidated too."""
    try:
        yield
    except (asyncpg.PostgresError, *_LOST) as error:
        state = str(getattr(error, "sqlstate", "") or "")
        if isinstance(error, asyncpg.PostgresError) and state[:2] not in OUTAGE_CLASSES:
            kind = IntegrityError if state.startswith("23") else DBAPIError
            raise kind(sql, None, error, hide_parameters=True) from error
        await connection.invalidate()
        raise OperationalError(
            sql, None, error, hide_parameters=True, connection_invalidated=True
        ) from error
    except asyncio.CancelledError:
        await connection.invalidate()
        raise


async def driver(connection: AsyncConnection) -> Any:
    """The asyncpg connection under `connection`, inside its transaction. SQLAlchemy's asyncpg
    adapter sends BEGIN just before the first statement it runs itself, so a statement run on
    the driver before any other would run, and commit, on its own: its transaction is begun
    here first (a lock taken by it then lasts until the request's commit)."""
    raw = await connection.get_raw_connection()
    adapted: Any = raw.dbapi_connection
    if adapted._transaction is None:
        async with driver_errors(connection, "BEGIN"):
            try:
                await adapted._start_transaction()
            except Exception as error:  # the adapter's wrapping of asyncpg's own error
                raise (error.__cause__ or error) from None
    return raw.driver_connection


# (SQL, its bound names in order with their bind processors, the names the caller must give,
# the statement's own literal values)
_Compiled = tuple[
    str, list[tuple[str, Callable[[Any], Any] | None]], frozenset[str], dict[str, Any]
]


class Direct:
    """A Core statement on the path of every push, run on PostgreSQL straight through asyncpg,
    inside the session's transaction (`driver`): compiled once per dialect, its bound values put
    in order by SQLAlchemy's own bind processors, its row returned as the driver reads it. This
    skips the ORM and the execution context (about 210 µs of CPU a statement through
    `session.execute`, 60 µs here, measured on the bench machine). Elsewhere (SQLite) it is
    `session.execute`. Only for statements whose result columns need no type processing (ids,
    text, dates, booleans), with no schema translation."""

    def __init__(self, statement: Select[*tuple[Any, ...]]) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def _compile(self, dialect: Dialect) -> _Compiled:
        done = self._compiled.get(dialect.name)
        if done is None:
            compiled: Any = self.statement.compile(dialect=dialect)
            processors = getattr(compiled, "_bind_processors", {})
            names = list(compiled.positiontup or [])
            # The statement's own literals ('Pending', ...) are bound values with a value; the
            # caller's parameters are those without one.
            literals = {n: v for n, v in compiled.params.items() if v is not None}
            required = frozenset(n for n in names if n not in literals)
            done = str(compiled), [(n, processors.get(n)) for n in names], required, literals
            self._compiled[dialect.name] = done
        return done

    async def first(self, session: AsyncSession, params: dict[str, Any]) -> Sequence[Any] | None:
        connection = await session.connection()
        if connection.dialect.driver != "asyncpg":
            return (await session.execute(self.statement, params)).first()
        sql, binds, required, literals = self._compile(connection.dialect)
        if not required <= params.keys():  # never a silent NULL for a forgotten parameter
            raise KeyError(f"missing parameters: {sorted(required - params.keys())}")
        values = {**literals, **params}
        args = [values[n] if p is None else p(values[n]) for n, p in binds]
        asyncpg_connection = await driver(connection)
        async with driver_errors(connection, sql):
            row: Sequence[Any] | None = await asyncpg_connection.fetchrow(sql, *args)
        return row
