"""For the fault tests: a feed connected over real HTTP, a load of pushes that records what was
acknowledged, and the daily send under faults (a connection with many pending rows, arq workers
SIGKILLed part-way, the check that every row was sent exactly once). The throwaway PostgreSQL and
Redis servers are bench/throwaway.py's.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
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
from bench.throwaway import PG_BINS, ThrowawayPostgres
from tests.helpers.builders import v1_account
from tests.helpers.clients import Api, basic
from tests.helpers.logs import remember_credentials, remember_secret, scan_output, scan_server_log
from tests.helpers.servers import BIN_DIR, start_jobs_run, worker_env

REQUIRED = bool(os.environ.get("BANKFEEDS_REQUIRE_FAULTS"))


def need(condition: bool, reason: str) -> None:
    """Skip when a tool is missing locally; in CI (BANKFEEDS_REQUIRE_FAULTS=1) fail instead."""
    if condition:
        return
    if REQUIRED:
        pytest.fail(f"{reason} (BANKFEEDS_REQUIRE_FAULTS is set)")
    pytest.skip(reason)


def throwaway_postgres() -> ThrowawayPostgres:
    """bench/throwaway.py's cluster of our own; skipped (or failed in CI) without the binaries."""
    need(bool(PG_BINS), "no PostgreSQL server binaries under /usr/lib/postgresql")
    return ThrowawayPostgres()


def push_day() -> str:
    """Yesterday for a Toronto company: valid whichever side of midnight the server is on."""
    return (datetime.now(ZoneInfo("America/Toronto")).date() - timedelta(days=1)).isoformat()


@dataclass
class Feed:
    """A feed connected over HTTP: where the client pushes, and how QuickBooks pulls it."""

    push_path: str
    idx_headers: dict[str, str]
    pull_path: str
    pull_params: dict[str, str]


async def connected_feed(http: httpx.AsyncClient, api_key: str, partner_key: str) -> str:
    """A company, a connection and an account that QuickBooks (IDX) listed and queried, over
    HTTP; returns the account's push path."""
    return (await linked_feed(http, api_key, partner_key)).push_path


async def linked_feed(http: httpx.AsyncClient, api_key: str, partner_key: str) -> Feed:
    """`connected_feed`, with what an IDX pull of its account needs."""
    remember_secret(api_key, partner_key)
    headers = basic(api_key)
    company = (await http.post("/companies", json={"name": "Fault Co"}, headers=headers)).json()
    connection = (
        await http.post(
            f"/companies/{company['id']}/connections",
            json={"platformKey": "hcws"},
            headers=headers,
        )
    ).json()
    base = f"/companies/{company['id']}/connections/{connection['id']}"
    accounts = f"{base}/connectionInfo/bankFeedAccounts"
    r = await http.post(f"{accounts}/batch", json=[v1_account("chk-1")], headers=headers)
    assert r.status_code == 201, r.text
    creds = (await http.post(f"{accounts}/credentials", headers=headers)).json()
    remember_credentials(creds["username"], creds["password"])
    idx = {
        **basic(f"{creds['username']}:{creds['password']}"),
        "X-Partner-Key": basic(partner_key)["Authorization"].removeprefix("Basic "),
    }
    listing = await http.get("/partners/intuit/idx/accounts", headers=idx)
    assert listing.status_code == 200, listing.text
    account = listing.json()["results"][0]["id"]
    start = (datetime.now(ZoneInfo("America/Toronto")).date() - timedelta(days=7)).isoformat()
    pull, params = f"/partners/intuit/idx/accounts/{account}/transactions", {"startDate": start}
    r = await http.get(pull, params=params, headers=idx)
    assert r.status_code == 200, r.text
    return Feed(f"{base}/push/bankAccounts/chk-1/bankTransactions", idx, pull, params)


@dataclass
class Load:
    """Pushers sending one to three transactions per request until told to stop."""

    http: httpx.AsyncClient
    api_key: str
    path: str
    acked: set[str] = field(default_factory=set)
    answers: list[tuple[float, float, int, Any]] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def pusher(self, name: str) -> None:
        n = 0
        while not self.stop.is_set():
            ids = [f"{name}-{n + i}" for i in range(1 + n % 3)]
            n += len(ids)
            body = {
                "accountId": "chk-1",
                "transactions": [
                    {"id": i, "date": push_day(), "description": "Load", "amount": "-1.25"}
                    for i in ids
                ],
            }
            started = time.monotonic()
            try:
                r = await self.http.post(self.path, json=body, headers=basic(self.api_key))
            except httpx.TransportError as exc:
                self.answers.append((started, time.monotonic() - started, 0, repr(exc)))
                await asyncio.sleep(0.05)
                continue
            spent = time.monotonic() - started
            if 200 <= r.status_code < 300:
                self.acked.update(ids)
                self.answers.append((started, spent, r.status_code, None))
            else:
                self.answers.append((started, spent, r.status_code, r.json()))
                await asyncio.sleep(0.05)

    def since(self, moment: float) -> list[tuple[float, float, int, Any]]:
        return [a for a in self.answers if a[0] >= moment]


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


async def sent_count(sessions: async_sessionmaker[AsyncSession], pks: list[uuid.UUID]) -> int:
    async with sessions() as session:
        stmt = select(func.count()).where(
            BankTransaction.account_pk.in_(pks), BankTransaction.sent_at.is_not(None)
        )
        return int((await session.execute(stmt)).scalar_one())


async def assert_sent_once(
    sessions: async_sessionmaker[AsyncSession], log: str, pks: list[uuid.UUID], expected: int
) -> None:
    """Every row of `pks` sent, and each once: `log` (the `send_log` fixture's table) holds one
    change of `sent_at` per row, from nothing."""
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


async def kill_workers_mid_send(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    pks: list[uuid.UUID],
    tmp_path: Path,
    *,
    rounds: int,
    seed: int,
    jobs: Iterable[str] = ("daily_send",),
) -> int:
    """`rounds` times: a Redis of its own, new and empty (flushed and restarted), `jobs` queued,
    and a real arq worker sending one account per chunk, SIGKILLed once it has got part of the
    way (this round sent something) at a random moment just after: wherever a chunk's
    transaction happens to be. Returns how many rounds were cut off mid-run."""
    rng = random.Random(seed)
    killed = 0
    for round_ in range(rounds):
        with EmbeddedRedis(tmp_path / f"redis-{round_}") as redis_server:
            pool = await create_pool(RedisSettings.from_dsn(redis_server.url))
            for job in jobs:
                await pool.enqueue_job(job)
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
            before = await sent_count(sessions, pks)
            while proc.returncode is None and await sent_count(sessions, pks) == before:  # noqa: ASYNC110 (polls the database, not an event)
                await asyncio.sleep(0.002)
            await asyncio.sleep(rng.uniform(0, 0.005))
            if proc.returncode is None:
                proc.send_signal(signal.SIGKILL)
                killed += 1
            await proc.wait()
            scan_server_log(tmp_path / f"worker-{round_}.log")
    return killed


async def jobs_run(settings: Settings, job: str) -> str:
    """`bankfeeds jobs run <job>` to its end in a process of its own (what finishes the work the
    killed workers left); its summary (stdout) returned, its log scanned for secrets."""
    proc = await start_jobs_run(worker_env(settings), job)
    out, err = await proc.communicate()
    scan_output(err)
    assert proc.returncode == 0, err.decode()[-2000:]
    return out.decode()
