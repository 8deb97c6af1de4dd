"""The production shape under faults, in one run: two `bankfeeds serve` and two `bankfeeds worker`
processes on a throwaway PostgreSQL cluster and a throwaway Redis, clients pushing across both
API ports while each API process and a worker are SIGKILLed, Redis restarts and sends run by
hand and by cron. Invariants: every acknowledged transaction stored once and sent once, no 5xx
but retryable 503s, the workers never exit. The figures go to docs/OPERATIONS.md.

About 45 s; it runs in CI's PostgreSQL round (BANKFEEDS_FAULT_REPEAT > 1) or with
BANKFEEDS_FAULT_RUN=1: `BANKFEEDS_FAULT_RUN=1 python3 tasks.py test tests/test_fault_run.py -s`.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest
from arq import create_pool
from arq.connections import RedisSettings

from tests.faults import Load, ThrowawayPostgres, ThrowawayRedis, connected_feed
from tests.helpers import BIN, created_tenant, free_port, scan_server_log

RUN = int(os.environ.get("BANKFEEDS_FAULT_REPEAT", "1")) > 1 or bool(
    os.environ.get("BANKFEEDS_FAULT_RUN")
)
pytestmark = pytest.mark.configured(
    RUN, "the multi-process fault run: BANKFEEDS_FAULT_RUN=1 (CI's PostgreSQL round)"
)


class Proc:
    """A `bankfeeds` process we can SIGKILL and start again, its output in a log file."""

    def __init__(self, env: dict[str, str], root: Path, name: str, *args: str) -> None:
        self.env, self.root, self.name, self.args = env, root, name, args
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = (self.root / f"{self.name}-{self.starts}.log").open("wb")
        self.proc = subprocess.Popen([str(BIN), *self.args], env=self.env, stderr=log, stdout=log)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        for log in self.root.glob(f"{self.name}-*.log"):
            scan_server_log(log)
        return self.proc.returncode


def _cli(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [str(BIN), *args], env=env, check=True, capture_output=True, text=True
    ).stdout


async def _until_ready(url: str) -> None:
    async with httpx.AsyncClient(timeout=1) as http:
        for _ in range(300):
            try:
                if (await http.get(f"{url}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} did not become ready")


async def test_two_apis_two_workers_kills_and_a_redis_restart(tmp_path: Path) -> None:
    pg = ThrowawayPostgres()
    redis = ThrowawayRedis(tmp_path / "redis")
    procs: list[Proc] = []
    try:
        pg.start()
        redis.start()
        env = {
            **os.environ,
            "DATABASE_URL": pg.url,
            "REDIS_URL": redis.url,
            "BANKFEEDS_DATA_DIR": str(tmp_path),
            "BANKFEEDS_LOG_LEVEL": "WARNING",
            "BANKFEEDS_REDIS_RETRY_MAX_SECONDS": "1",
            "BANKFEEDS_RATE_LIMIT_CONCURRENCY": "100",
            "BANKFEEDS_SEND_CHUNK_ACCOUNTS": "1",
        }
        env.pop("BANKFEEDS_DB_SCHEMA", None)
        await asyncio.to_thread(_cli, env, "migrate")
        tenant = created_tenant(
            await asyncio.to_thread(_cli, env, "tenants", "create", "F", "--json")
        )
        ports = [free_port(), free_port()]
        apis = [
            Proc(env, tmp_path, f"api{i}", "serve", "--port", str(p)) for i, p in enumerate(ports)
        ]
        workers = [Proc(env, tmp_path, f"worker{i}", "worker") for i in range(2)]
        procs = [*apis, *workers]
        for p in procs:
            p.start()
        urls = [f"http://127.0.0.1:{p}" for p in ports]
        await asyncio.gather(*(_until_ready(u) for u in urls))

        loads: list[Load] = []
        tasks: list[asyncio.Task[None]] = []
        clients = [httpx.AsyncClient(base_url=u, timeout=10) for u in urls]
        paths = []
        for n in range(2):  # a feed per API, each pushed through both ports
            paths.append(
                await connected_feed(
                    clients[n], tenant["apiKey"], tenant["partnerKeys"]["production"]
                )
            )
        for i in range(8):
            load = Load(clients[i % 2], tenant["apiKey"], paths[i // 4])
            loads.append(load)
            tasks.append(asyncio.create_task(load.pusher(f"c{i}-")))
        events: list[str] = []
        began = time.monotonic()

        def note(what: str) -> None:
            events.append(f"{time.monotonic() - began:5.1f} s  {what}")

        async def send_by_hand() -> int:
            proc = await asyncio.create_subprocess_exec(
                str(BIN),
                "jobs",
                "run",
                "daily-send",
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
            )
            await proc.communicate()
            return proc.returncode or 0

        await asyncio.sleep(3)
        apis[0].kill()
        note("SIGKILL api0 mid-push")
        apis[0].start()
        await _until_ready(urls[0])
        note("api0 back")
        pool = await create_pool(RedisSettings.from_dsn(redis.url))
        await pool.enqueue_job("daily_send", _job_id=f"send-{time.time()}")
        await asyncio.sleep(0.3)
        workers[0].kill()
        note("daily send enqueued; SIGKILL worker0 mid-send")
        workers[0].start()
        await pool.aclose()
        await asyncio.sleep(2)
        redis.stop()
        note("Redis stopped")
        await asyncio.sleep(5)
        redis.start()
        note("Redis started again (its append-only file kept the queue)")
        await asyncio.sleep(2)
        apis[1].kill()
        note("SIGKILL api1 mid-push")
        apis[1].start()
        await _until_ready(urls[1])
        note("api1 back")
        hand = [asyncio.create_task(send_by_hand()) for _ in range(2)]
        await asyncio.sleep(1.0)
        killer = await asyncio.create_subprocess_exec(
            str(BIN),
            "jobs",
            "run",
            "daily-send",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await asyncio.sleep(0.5)
        if killer.returncode is None:
            killer.send_signal(signal.SIGKILL)
        await killer.wait()
        note("two `jobs run daily-send` at once, a third SIGKILLed mid-run")
        assert await asyncio.gather(*hand) == [0, 0]
        await asyncio.sleep(2)
        for load in loads:
            load.stop.set()
        await asyncio.gather(*tasks)
        note("load stopped")
        for c in clients:
            await c.aclose()
        assert all(w.alive() for w in workers), "the workers rode out the Redis restart"

        # A last send through the queue, so that everything acknowledged is sent.
        pool = await create_pool(RedisSettings.from_dsn(redis.url))
        asked = datetime.now(UTC)
        await pool.enqueue_job("daily_send", _job_id=f"final-{time.time()}")
        await pool.aclose()
        conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{pg.port}/postgres")
        try:
            for _ in range(300):
                at = await conn.fetchval(
                    "SELECT finished_at FROM job_runs WHERE job = 'daily_send'"
                )
                if at is not None and at > asked:
                    break
                await asyncio.sleep(0.1)
            note("final daily send by a worker")
            rows = await conn.fetch("SELECT transaction_id, sent_at FROM bank_transactions")
            ops = dict(
                await conn.fetch("SELECT status, count(*) FROM push_operations GROUP BY status")
            )
        finally:
            await conn.close()
        codes = [w.stop() for w in workers]
    finally:
        for p in procs:
            p.stop()
        redis.stop()
        pg.remove()

    answers = [a for load in loads for a in load.answers]
    acked = set().union(*(load.acked for load in loads))
    ids = Counter(r["transaction_id"] for r in rows)
    statuses = Counter(s for _, _, s, _ in answers)
    lost = acked - set(ids)
    duplicated = [i for i, n in ids.items() if n > 1]
    unsent = [r["transaction_id"] for r in rows if r["sent_at"] is None]
    figures = {
        "pushes": len(answers),
        "acknowledgedTransactions": len(acked),
        "storedTransactions": len(ids),
        "lost": len(lost),
        "duplicated": len(duplicated),
        "unsent": len(unsent),
        "answers": {str(k): v for k, v in sorted(statuses.items())},
        "operations": ops,
        "workerExitCodes": codes,
    }
    print("\n".join(events))
    print(json.dumps(figures, indent=2))
    assert not lost, f"{len(lost)} acknowledged transactions are missing"
    assert not duplicated, f"{len(duplicated)} transactions were stored twice"
    assert not unsent, f"{len(unsent)} transactions were never sent"
    assert set(statuses) <= {200, 503, 0}, statuses  # 0: the API process was killed mid-request
    for _, _, status, body in answers:
        if status == 503:
            assert body["canBeRetried"] == "True", body
    assert codes == [0, 0], "the workers stopped cleanly on SIGTERM"
