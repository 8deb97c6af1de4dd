"""Migrations that rewrite data: run on a database of their own (a fresh SQLite file, or a fresh
PostgreSQL schema), from the revision before them, with rows written as that revision had them."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import insert, select

from app import migrate
from app.accounts.tables import SourceAccount
from app.companies.tables import Company
from app.config import Settings
from app.connections.tables import Connection
from app.db import make_engine, make_sessionmaker, transaction
from app.tenants.tables import Tenant
from app.transactions.tables import BankTransaction
from tests.helpers.servers import drop_schema

AT = datetime(2026, 3, 1, 5, 0, tzinfo=UTC)


@pytest.fixture
async def fresh(settings: Settings, tmp_path: Path) -> AsyncIterator[Settings]:
    """The test's own empty database, on the suite's kind of database."""
    if settings.is_sqlite:
        yield settings.model_copy(update={"database_url": f"sqlite+aiosqlite:///{tmp_path}/m.db"})
        return
    schema = f"m_{secrets.token_hex(6)}"
    yield settings.model_copy(update={"db_schema": schema})
    await drop_schema(settings, schema)


async def read(settings: Settings, stmt: Any) -> list[Any]:
    engine = make_engine(settings)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(stmt)).all())
    finally:
        await engine.dispose()


async def test_0014_numbers_each_sent_batch_in_id_order_and_downgrades(fresh: Settings) -> None:
    await asyncio.to_thread(migrate.upgrade, fresh, "0013")
    engine = make_engine(fresh)
    sessions = make_sessionmaker(engine)
    accounts = [uuid.uuid4(), uuid.uuid4()]
    try:
        async with transaction(sessions) as session:
            tenant, company, connection = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
            session.add(Tenant(id=tenant, name="m", time_zone="UTC", created_at=AT))
            await session.flush()
            session.add(
                Company(
                    id=company, tenant_id=tenant, environment="production", name="m", created_at=AT
                )
            )
            await session.flush()
            session.add(
                Connection(
                    id=connection,
                    company_id=company,
                    platform_key="hcws",
                    status="Linked",
                    created_at=AT,
                )
            )
            await session.flush()
            # Named columns only: later revisions add columns 0013 did not have.
            for n, pk in enumerate(accounts):
                await session.execute(
                    insert(SourceAccount.__table__).values(
                        pk=pk,
                        connection_id=connection,
                        account_id=f"a{n}",
                        version=2,
                        currency="USD",
                        status="connected",
                        created_at=AT,
                    )
                )
            # Two batches per account, their rows' ids interleaved across accounts and
            # batches, and a pending row: written as 0013 had them (no send_seq).
            batches = [AT, AT + timedelta(days=1)]
            rows = [
                {
                    "account_pk": accounts[i % 2],
                    "transaction_id": f"t{i}",
                    "cleared_on": date(2026, 3, 1),
                    "description": "x",
                    "amount": Decimal("-1.00"),
                    "accepted_at": AT,
                    "sent_at": None if i == 13 else batches[(i // 2) % 2],
                }
                for i in range(14)
            ]
            columns = BankTransaction.__table__.c
            for row in rows:
                await session.execute(
                    insert(BankTransaction.__table__).values(
                        {columns[k]: v for k, v in row.items()}
                    )
                )
    finally:
        await engine.dispose()

    await asyncio.to_thread(migrate.upgrade, fresh)
    numbered = select(
        BankTransaction.transaction_id,
        BankTransaction.account_pk,
        BankTransaction.sent_at,
        BankTransaction.send_seq,
    ).order_by(BankTransaction.id)
    got = await read(fresh, numbered)
    seen: dict[tuple[uuid.UUID, datetime], int] = {}
    for tid, pk, sent_at, seq in got:
        if sent_at is None:
            assert tid == "t13" and seq is None
            continue
        seen[pk, sent_at] = seen.get((pk, sent_at), 0) + 1
        assert seq == seen[pk, sent_at], (tid, seq)
    assert sorted(seen.values()) == [3, 3, 3, 4]

    # Down to 0013 and up again: the column comes back, numbered alike.
    await asyncio.to_thread(command.downgrade, migrate.alembic_config(fresh), "0013")
    await asyncio.to_thread(migrate.upgrade, fresh)
    assert await read(fresh, numbered) == got
