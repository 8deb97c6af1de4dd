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
from typing import cast as cast_any

import asyncpg
from sqlalchemy import (
    BigInteger,
    DateTime,
    Dialect,
    MetaData,
    Numeric,
    Uuid,
    bindparam,
    cast,
    event,
    literal_column,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql import Executable, Select
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.functions import FunctionElement
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

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """Cents on SQLite; elsewhere the Decimal goes to the driver as it is, with no Python
        call per value (a push's rows encode two amounts an item)."""
        if dialect.name == "sqlite":
            return super().bind_processor(dialect)
        driver_own: Callable[[Any], Any] | None = self.load_dialect_impl(dialect).bind_processor(
            dialect
        )
        return driver_own

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
    stmt = dialect_insert(session.get_bind().dialect, model)
    stmt = stmt.on_conflict_do_nothing(index_elements=conflict_columns).returning(returning)
    result = await session.execute(stmt, rows)
    return list(result.scalars())


# SQLSTATE classes of a database that is going away or not there yet: connection exception,
# operator intervention (admin/crash shutdown, cannot connect now), insufficient resources.
OUTAGE_CLASSES = {"08", "57", "53"}


# What asyncpg raises when the server or the connection is gone (or left mid-operation by an
# earlier failure), as itself or under the adapter's error: the connection must not go back to
# the pool.
_LOST = (asyncpg.InterfaceError, asyncpg.InternalClientError)


# (SQL, its bound names in order with their bind processors, the names the caller must give,
# the statement's own literal values, the result columns' processors)
_Compiled = tuple[
    str,
    list[tuple[str, Callable[[Any], Any] | None]],
    frozenset[str],
    dict[str, Any],
    list[Callable[[Any], Any] | None],
]


def _cursor_run(connection: Connection, sql: str, args: tuple[Any, ...]) -> tuple[list[Any], int]:
    """One statement on the DBAPI connection's own cursor (PEP 249), in SQLAlchemy's greenlet:
    the adapter begins the transaction itself when this is its first statement."""
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, args)
        rows = list(cursor.fetchall()) if cursor.description else []
        return rows, cursor.rowcount
    finally:
        cursor.close()


class Direct:
    """A Core statement on the path of every push, compiled once per dialect and run on the
    DBAPI connection's cursor (PEP 249), inside the session's transaction: its bound values put
    in order by the types' own bind processors, its rows by their result processors. This skips
    the ORM and the execution context (about 210 µs of CPU a statement through
    `session.execute`, under 90 µs here, measured on the bench machine), and it is the same code
    on PostgreSQL and SQLite: only the compiled SQL differs. Public APIs only (`compile()` with
    the dialect, `TypeEngine.dialect_impl().bind_processor()`/`result_processor()`,
    `Connection.connection.dbapi_connection`, `DBAPIError.instance`). A statement may be given
    per dialect (`Direct(build)`, `build(dialect)` called once each) where the dialects'
    constructs differ (an INSERT's ON CONFLICT). No expanding (IN list) parameters."""

    def __init__(self, statement: Executable | Callable[[Dialect], Executable]) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}
        self.returns_rows = False

    def statement_for(self, dialect: Dialect) -> Any:
        built = self.statement
        return built if isinstance(built, Executable) else built(dialect)

    def _compile(self, dialect: Dialect) -> _Compiled:
        done = self._compiled.get(dialect.name)
        if done is None:
            statement = self.statement_for(dialect)
            compiled: Any = statement.compile(dialect=dialect)  # an SQLCompiler
            names = list(compiled.positiontup or [])
            binds: dict[str, Any] = compiled.binds
            processors = [
                (n, binds[n].type.dialect_impl(dialect).bind_processor(dialect)) for n in names
            ]
            # The statement's own literals ('Pending', ...) are bound values with a value; the
            # caller's parameters are those without one.
            literals = {n: v for n, v in compiled.params.items() if v is not None}
            required = frozenset(n for n in names if n not in literals)
            columns: list[Any] = (
                list(statement.selected_columns) if isinstance(statement, Select) else []
            )
            self.returns_rows = isinstance(statement, Select)
            results = [
                c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
            ]
            done = str(compiled), processors, required, literals, results
            self._compiled[dialect.name] = done
        return done

    async def _run(self, session: AsyncSession, params: dict[str, Any]) -> tuple[list[Any], int]:
        connection = await session.connection()
        dialect = connection.dialect
        sql, binds, required, literals, results = self._compile(dialect)
        if not required <= params.keys():  # never a silent NULL for a forgotten parameter
            raise KeyError(f"missing parameters: {sorted(required - params.keys())}")
        values = {**literals, **params}
        args = tuple(values[n] if p is None else p(values[n]) for n, p in binds)
        try:
            rows, count = await self._on_driver(connection, sql, args)
        except asyncio.CancelledError:  # the connection may be left mid-protocol
            await connection.invalidate()
            raise
        except (dialect.loaded_dbapi.Error, asyncpg.PostgresError, OSError, *_LOST) as error:
            raise await _driver_error(connection, sql, error) from error
        if any(results):
            rows = [
                tuple(v if p is None else p(v) for v, p in zip(row, results, strict=True))
                for row in rows
            ]
        return rows, count

    async def _on_driver(
        self, connection: AsyncConnection, sql: str, args: tuple[Any, ...]
    ) -> tuple[list[Any], int]:
        """The DBAPI cursor (which begins the transaction if this is its first statement); on
        asyncpg once the transaction is open (`is_in_transaction()`: only SQLAlchemy's adapter
        begins one on a pooled connection), asyncpg's own `fetch`/`execute` straight away,
        which skips the adapter's cursor (about 25 µs of CPU a statement)."""
        if connection.dialect.driver == "asyncpg":
            driver = (await connection.get_raw_connection()).driver_connection
            if driver is not None and driver.is_in_transaction():
                if self.returns_rows:
                    rows = await driver.fetch(sql, *args)
                    return rows, len(rows)
                status: str = await driver.execute(sql, *args)  # "INSERT 0 5", "UPDATE 1"
                return [], int(status.rsplit(" ", 1)[-1])
        return await connection.run_sync(_cursor_run, sql, args)

    async def first(self, session: AsyncSession, params: dict[str, Any]) -> Sequence[Any] | None:
        rows, _ = await self._run(session, params)
        return rows[0] if rows else None

    async def all(self, session: AsyncSession, params: dict[str, Any]) -> list[Sequence[Any]]:
        return (await self._run(session, params))[0]

    async def execute(self, session: AsyncSession, params: dict[str, Any]) -> int:
        """A write: the number of rows it changed."""
        return (await self._run(session, params))[1]


async def _driver_error(connection: AsyncConnection, sql: str, error: Exception) -> DBAPIError:
    """The driver's error as SQLAlchemy raises its own: a lost server invalidates the pooled
    connection (the next request gets a new one) and is an OperationalError (503); a constraint
    is an IntegrityError; anything else a DBAPIError carrying the driver's error. Parameters are
    never shown."""
    dialect = connection.dialect
    state = str(getattr(error, "sqlstate", "") or "")
    lost = (
        state[:2] in OUTAGE_CLASSES
        or isinstance(error, (OSError, *_LOST))
        or isinstance(error.__cause__, (OSError, *_LOST))
        or dialect.is_disconnect(cast_any(Any, error), None, None)
    )
    if lost:
        await connection.invalidate()
        return OperationalError(sql, None, error, hide_parameters=True, connection_invalidated=True)
    if isinstance(error, asyncpg.PostgresError):  # raised by asyncpg itself (`_on_driver`)
        kind = IntegrityError if state.startswith("23") else DBAPIError
        return kind(sql, None, error, hide_parameters=True)
    wrapped = DBAPIError.instance(
        sql, None, error, dialect.loaded_dbapi.Error, hide_parameters=True, dialect=dialect
    )
    assert isinstance(wrapped, DBAPIError)
    return wrapped


class json_rows(FunctionElement[Any]):
    """The elements of one JSON array parameter as a table whose one column is `value` (use
    `.table_valued("value")`): PostgreSQL's jsonb_array_elements, SQLite's json_each. Lets a
    whole batch of rows travel as one text parameter on both."""

    name = "json_rows"
    inherit_cache = True


@compiles(json_rows, "postgresql")
def _json_rows_postgresql(element: json_rows, compiler: Any, **kw: Any) -> str:
    # jsonb: parsed once, its elements then read without parsing again (json would parse each
    # element's text for every ->>: 1,000 rows cost the server 9.5 against 5.5 ms, measured).
    return f"jsonb_array_elements(CAST({compiler.process(element.clauses, **kw)} AS JSONB))"


@compiles(json_rows, "sqlite")
def _json_rows_sqlite(element: json_rows, compiler: Any, **kw: Any) -> str:
    return f"json_each({compiler.process(element.clauses, **kw)})"


class json_item(FunctionElement[Any]):
    """Element `index` of a JSON array value (`json_item(value, index, type_=...)`), as the
    type given: PostgreSQL reads it as text and casts it; SQLite takes the JSON value as it is
    (already in the column's stored form: the rows were encoded by the types' bind processors),
    since its CAST would turn a date's text into a number."""

    name = "json_item"
    inherit_cache = True

    def __init__(self, value: Any, index: int, type_: Any) -> None:
        super().__init__(value, literal_column(str(int(index))))
        self.type = type_


def _json_item_parts(element: json_item, compiler: Any, **kw: Any) -> tuple[str, str]:
    value, index = element.clauses.clauses
    return compiler.process(value, **kw), compiler.process(index, **kw)


@compiles(json_item, "postgresql")
def _json_item_postgresql(element: json_item, compiler: Any, **kw: Any) -> str:
    value, index = _json_item_parts(element, compiler, **kw)
    return str(compiler.process(cast(literal_column(f"({value} ->> {index})"), element.type), **kw))


@compiles(json_item, "sqlite")
def _json_item_sqlite(element: json_item, compiler: Any, **kw: Any) -> str:
    value, index = _json_item_parts(element, compiler, **kw)
    return f"json_extract({value}, '$[{index}]')"


def dialect_insert(dialect: Dialect, table: Any) -> Any:
    """The dialect's own INSERT construct (PostgreSQL's and SQLite's share `on_conflict_do_nothing`
    and `returning`)."""
    if dialect.name == "postgresql":
        return pg_insert(table)
    return sqlite_insert(table)
