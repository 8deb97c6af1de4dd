"""Exactly once under faults: concurrent senders, SIGKILLed workers, Redis flushed and restarted.

A trigger (created here, for the test) logs every change of a transaction's `sent_at`: a row sent
twice would log twice. The workers are real processes: `bankfeeds jobs run` and arq workers.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import signal
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from arq import create_pool
from arq.connections import RedisSettings
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts.tables import SourceAccount
from app.config import Settings
from app.db import transaction
from app.embedded_redis import EmbeddedRedis
from app.transactions.tables import BankTransaction
from tests.helpers import BIN, Api, scan_output, scan_server_log

BIN_DIR = BIN.parent


@pytest.fixture
async def send_log(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[str]:
    name = f"send_log_{secrets.token_hex(3)}"
    async with transaction(sessions) as session:
        await session.execute(
            text(f"CREATE TABLE {name} (id BIGINT, old_sent TEXT, new_sent TEXT)")
        )
        if settings.is_sqlite:
            await session.execute(
                text(
                    f"CREATE TRIGGER {name}_t AFTER UPDATE OF sent_at ON bank_transactions "
                    f"BEGIN INSERT INTO {name} VALUES (old.id, old.sent_at, new.sent_at); END"
                )
            )
        else:
            await session.execute(
                text(
                    f"CREATE FUNCTION {name}_f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    f"INSERT INTO {name} VALUES (OLD.id, OLD.sent_at::text, NEW.sent_at::text); "
                    "RETURN NEW; END $$"
                )
            )
            await session.execute(
                text(
                    f"CREATE TRIGGER {name}_t AFTER UPDATE OF sent_at ON bank_transactions "
                    f"FOR EACH ROW EXECUTE FUNCTION {name}_f()"
                )
            )
    yield name
    async with transaction(sessions) as session:
        if settings.is_sqlite:
            await session.execute(text(f"DROP TRIGGER IF EXISTS {name}_t"))
        else:
            await session.execute(text(f"DROP TRIGGER IF EXISTS {name}_t ON bank_transactions"))
            await session.execute(text(f"DROP FUNCTION IF EXISTS {name}_f()"))
        await session.execute(text(f"DROP TABLE {name}"))


async def pending_feed(
    api: Api, sessions: async_sessionmaker[AsyncSession], accounts: int, per_account: int
) -> list[uuid.UUID]:
    """A connection with `accounts` connected accounts, each holding `per_account` pending rows."""
    company = await api.company("Big Sender")
    connection = await api.connection(company["id"])
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    pks = [uuid.uuid4() for _ in range(accounts)]
    async with transaction(sessions) as session:
        await session.execute(
            insert(SourceAccount),
            [
                {
                    "pk": pk,
                    "connection_id": uuid.UUID(connection["id"]),
                    "account_id": f"bulk-{n}",
                    "version": 1,
                    "currency": "USD",
                    "status": "connected",
                    "created_at": now,
                    "last_queried_at": now,
                    "feed_start_date": date(2026, 3, 3),
                }
                for n, pk in enumerate(pks)
            ],
        )
        await session.execute(
            insert(BankTransaction),
            [
                {
                    "account_pk": pk,
                    "transaction_id": f"t{i}",
                    "cleared_on": date(2026, 3, 9),
                    "description": "Bulk",
                    "amount": Decimal("-1.00"),
                    "accepted_at": now,
                }
                for pk in pks
                for i in range(per_account)
            ],
        )
    return pks


async def assert_sent_once(
    sessions: async_sessionmaker[AsyncSession], log: str, pks: list[uuid.UUID], expected: int
) -> None:
    async with sessions() as session:
        rows = (
            await session.execute(
                select(BankTransaction.id, BankTransaction.sent_at).where(
                    BankTransaction.account_pk.in_(pks)
                )
            )
        ).all()
        logged = (await session.execute(text(f"SELECT id, old_sent FROM {log}"))).all()
    assert len(rows) == expected
    never = [i for i, sent in rows if sent is None]
    assert never == [], f"{len(never)} transactions never sent"
    mine = {i for i, _ in rows}
    sends = [row for row in logged if row[0] in mine]
    assert all(old is None for _, old in sends), "a transaction was sent twice"
    assert sorted(i for i, _ in sends) == sorted(mine), "each transaction sent exactly once"


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "BANKFEEDS_DATA_DIR": str(settings.data_dir),
        "REDIS_URL": settings.redis_url or "",
        "BANKFEEDS_LOG_LEVEL": "WARNING",
        "BANKFEEDS_WEBHOOK_ALLOWED_NETWORKS": settings.webhook_allowed_networks,
        "BANKFEEDS_WEBHOOK_DNS_SERVERS": settings.webhook_dns_servers,
        **extra,
    }
    if settings.database_url:
        env["DATABASE_URL"] = settings.database_url
    if settings.db_schema:
        env["BANKFEEDS_DB_SCHEMA"] = settings.db_schema
    return env


async def test_two_workers_sending_at_once(
    api: Api, settings: Settings, sessions: async_sessionmaker[AsyncSession], send_log: str
) -> None:
    pks = await pending_feed(api, sessions, accounts=60, per_account=20)
    env = worker_env(settings, BANKFEEDS_SEND_CHUNK_ACCOUNTS="3")
    procs = [
        await asyncio.create_subprocess_exec(
            str(BIN),
            "jobs",
            "run",
            "daily-send",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outputs = [await p.communicate() for p in procs]
    for _, err in outputs:
        scan_output(err)
    assert all(p.returncode == 0 for p in procs), outputs
    summaries = [out.decode() for out, _ in outputs]
    await assert_sent_once(sessions, send_log, pks, 60 * 20)
    assert all("daily-send at" in s for s in summaries)


async def sent_count(sessions: async_sessionmaker[AsyncSession], pks: list[uuid.UUID]) -> int:
    async with sessions() as session:
        stmt = select(func.count()).where(
            BankTransaction.account_pk.in_(pks), BankTransaction.sent_at.is_not(None)
        )
        return int((await session.execute(stmt)).scalar_one())


async def test_sigkilled_workers_and_a_flushed_redis_lose_and_double_nothing(
    api: Api,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    send_log: str,
    tmp_path: Path,
) -> None:
    # SQLite sends an account in well under a millisecond: it gets more of them, so that every
    # round is still cut off part-way.
    accounts = 300 if settings.database_url else 3000
    pks = await pending_feed(api, sessions, accounts=accounts, per_account=10)
    rng = random.Random(20261122)
    killed_mid_run = 0
    for round_ in range(20):
        # A Redis of its own, new and empty every round: flushed and restarted.
        with EmbeddedRedis(tmp_path / f"redis-{round_}") as redis_server:
            pool = await create_pool(RedisSettings.from_dsn(redis_server.url))
            await pool.enqueue_job("daily_send")
            await pool.aclose()
            env = worker_env(
                settings, REDIS_URL=redis_server.url, BANKFEEDS_SEND_CHUNK_ACCOUNTS="1"
            )
            # Its log goes to a file (the process is killed) and is scanned for secrets after.
            with (tmp_path / f"worker-{round_}.log").open("wb") as worker_log:
                proc = await asyncio.create_subprocess_exec(
                    str(BIN_DIR / "arq"),
                    "app.worker.WorkerSettings",
                    "--burst",
                    env=env,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=worker_log,
                )
            # Killed once it has got part of the way (this round sent something), at a random
            # moment just after: wherever a chunk's transaction happens to be.
            before = await sent_count(sessions, pks)
            while proc.returncode is None and await sent_count(sessions, pks) == before:  # noqa: ASYNC110 (polls the database, not an event)
                await asyncio.sleep(0.002)
            await asyncio.sleep(rng.uniform(0, 0.005))
            if proc.returncode is None:
                proc.send_signal(signal.SIGKILL)
                killed_mid_run += 1
            await proc.wait()
            scan_server_log(tmp_path / f"worker-{round_}.log")
    assert killed_mid_run >= 10, "most rounds were cut off part-way"
    async with sessions() as session:
        sent_so_far = len(
            (
                await session.execute(
                    select(BankTransaction.id).where(
                        BankTransaction.account_pk.in_(pks), BankTransaction.sent_at.is_not(None)
                    )
                )
            ).all()
        )
    assert sent_so_far > 0, "the killed workers got some of the way"
    # The next run finishes what the killed ones left.
    final = await asyncio.create_subprocess_exec(
        str(BIN),
        "jobs",
        "run",
        "daily-send",
        env=worker_env(settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await final.communicate()
    scan_output(err)
    assert final.returncode == 0, err.decode()[-2000:]
    await assert_sent_once(sessions, send_log, pks, accounts * 10)
