"""Faults under load, against real `bankfeeds serve` processes (uvicorn) over real HTTP.

- PostgreSQL stopped and started again under a load of pushes (a throwaway cluster of our own,
  never the shared one): answers fail fast with 503 and canBeRetried, then recover, and every
  acknowledged push is in the database.
- Redis stopped and started empty (a redis-server of our own): pushes keep being accepted, the
  daily send then runs on the new Redis and sends every transaction exactly once.

The two restart tests run once per suite (`BANKFEEDS_FAULT_REPEAT=10` runs each ten times in a
row; docs/SECURITY.md records such a run). Cut bodies and disconnects: tests/test_disconnects.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from arq import create_pool
from arq.connections import RedisSettings
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.embedded_redis import EmbeddedRedis
from app.transactions.tables import BankTransaction
from bench.throwaway import ThrowawayPostgres
from tests.helpers.builders import make_tenant
from tests.helpers.faults import Load, connected_feed, throwaway_postgres
from tests.helpers.logs import scan_output
from tests.helpers.servers import BIN, serve, worker_env

REPEAT = range(int(os.environ.get("BANKFEEDS_FAULT_REPEAT", "1")))
PUSHERS = 6


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "BANKFEEDS_LOG_LEVEL": "WARNING", **extra}


def _fails_fast_and_retryable(answers: list[tuple[float, float, int, Any]]) -> None:
    for _, spent, status, body in answers:
        if 200 <= status < 300:
            continue
        assert status == 503, (status, body)
        assert body["canBeRetried"] == "True", body
        assert body["statusCode"] == 503
        assert spent < 3, f"a 503 took {spent:.1f} s"


@pytest.mark.parametrize("attempt", REPEAT)
async def test_postgres_restarted_under_load(attempt: int, tmp_path: Path) -> None:
    pg = throwaway_postgres()
    redis: EmbeddedRedis | None = None
    try:
        pg.start()
        env = _env(DATABASE_URL=pg.url, REDIS_URL="", BANKFEEDS_DATA_DIR=str(tmp_path))
        redis = EmbeddedRedis(tmp_path / "redis").start()
        env["REDIS_URL"] = redis.url
        await asyncio.to_thread(_cli, env, "migrate")
        made = await asyncio.to_thread(_cli, env, "tenants", "create", "Fault", "--json")
        tenant = json.loads(made)
        with serve(env, tmp_path, ready="/healthz") as (url, _):
            async with httpx.AsyncClient(base_url=url, timeout=10) as http:
                path = await connected_feed(
                    http, tenant["apiKey"], tenant["partnerKeys"]["production"]
                )
                load = Load(http, tenant["apiKey"], path)
                tasks = [
                    asyncio.create_task(load.pusher(f"a{attempt}p{i}")) for i in range(PUSHERS)
                ]
                await asyncio.sleep(1.5)
                assert load.acked, "pushes were accepted before the fault"
                down_at = time.monotonic()
                await asyncio.to_thread(pg.stop, "fast")
                await asyncio.sleep(2.0)
                during = load.since(down_at + 0.5)
                assert any(s == 503 for _, _, s, _ in during), "PostgreSQL down: 503s"
                await asyncio.to_thread(pg.start)
                up_at = time.monotonic()
                recovered = await _recovered(load, up_at, within=20)
                load.stop.set()
                await asyncio.gather(*tasks)
                assert recovered, "pushes were accepted again after PostgreSQL came back"
                assert not any(s == 0 for _, _, s, _ in load.answers), "the server stayed up"
                _fails_fast_and_retryable(load.answers)
                ready = await http.get("/readyz")
                assert ready.status_code == 200, ready.text
        stored = await _stored_ids(pg)
        lost = load.acked - stored
        assert not lost, f"{len(lost)} acknowledged transactions are missing"
        slowest = max((spent for _, spent, s, _ in load.answers if s == 503), default=0)
        print(
            f"postgres restart: {len(load.answers)} pushes, {len(load.acked)} transactions "
            f"acknowledged and stored, {sum(1 for a in load.answers if a[2] == 503)} answered "
            f"503 (slowest {slowest * 1000:.0f} ms)"
        )
    finally:
        if redis is not None:
            redis.stop()
        pg.remove()


def _cli(env: dict[str, str], *args: str) -> str:
    import subprocess

    done = subprocess.run([str(BIN), *args], env=env, capture_output=True, text=True, check=True)
    return done.stdout


async def _recovered(load: Load, since: float, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        after = [s for _, _, s, _ in load.since(since)]
        if sum(1 for s in after if 200 <= s < 300) >= 2 * PUSHERS:
            return True
        await asyncio.sleep(0.2)
    return False


async def _stored_ids(pg: ThrowawayPostgres) -> set[str]:
    conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{pg.port}/postgres")
    try:
        rows = await conn.fetch("SELECT transaction_id FROM bank_transactions")
    finally:
        await conn.close()
    ids = [r["transaction_id"] for r in rows]
    assert len(ids) == len(set(ids)), "a transaction was stored twice"
    return set(ids)


@pytest.mark.parametrize("attempt", REPEAT)
async def test_redis_restarted_pushes_go_on_and_jobs_resume(
    attempt: int,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    tenant = await make_tenant(sessions)
    redis = EmbeddedRedis(tmp_path / "redis").start()
    try:
        env = worker_env(settings, REDIS_URL=redis.url)
        env["BANKFEEDS_REDIS_PREFIX"] = f"{settings.redis_prefix}f{secrets.token_hex(3)}:"
        with serve(env, tmp_path, ready="/healthz") as (url, _):
            async with httpx.AsyncClient(base_url=url, timeout=10) as http:
                path = await connected_feed(http, tenant.api_key, tenant.partner_keys["production"])
                load = Load(http, tenant.api_key, path)
                tasks = [
                    asyncio.create_task(load.pusher(f"r{attempt}p{i}")) for i in range(PUSHERS)
                ]
                await asyncio.sleep(1.0)
                await asyncio.to_thread(redis.stop)
                down_at = time.monotonic()
                await asyncio.sleep(1.5)
                await asyncio.to_thread(redis.start)
                await asyncio.sleep(1.0)
                load.stop.set()
                await asyncio.gather(*tasks)
        during = [a for a in load.since(down_at) if a[0] < down_at + 1.5]
        assert during, "pushes were made while Redis was down"
        assert all(200 <= s < 300 for _, _, s, _ in load.answers), [
            (s, b) for _, _, s, b in load.answers if not 200 <= s < 300
        ][:3]
        # Jobs resume on the restarted (empty) Redis: the daily send, run by an arq worker.
        pool = await create_pool(RedisSettings.from_dsn(redis.url))
        await pool.enqueue_job("daily_send")
        await pool.aclose()
        worker = await asyncio.create_subprocess_exec(
            str(BIN.parent / "arq"),
            "app.worker.WorkerSettings",
            "--burst",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(worker.communicate(), timeout=120)
        scan_output(err)
        assert worker.returncode == 0, err.decode()[-2000:]
        async with sessions() as session:
            rows = (
                await session.execute(
                    select(BankTransaction.transaction_id, BankTransaction.sent_at).where(
                        BankTransaction.transaction_id.like(f"r{attempt}p%")
                    )
                )
            ).all()
            twice = await session.scalar(
                select(func.count()).where(BankTransaction.transaction_id.like(f"r{attempt}p%"))
            )
        stored = {tid for tid, _ in rows}
        assert twice == len(stored), "a transaction was stored twice"
        assert load.acked <= stored, "acknowledged pushes are all stored"
        assert all(sent is not None for _, sent in rows), "every transaction was sent"
    finally:
        redis.stop()
