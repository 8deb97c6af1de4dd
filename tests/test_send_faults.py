"""Exactly once under faults: concurrent senders, SIGKILLed workers, Redis flushed and restarted.

A trigger (the `send_log` fixture, in conftest.py) logs every change of a transaction's
`sent_at`: a row sent twice would log twice. The workers are real processes: `bankfeeds jobs run`
and arq workers.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from tests.helpers.clients import Api
from tests.helpers.faults import (
    assert_sent_once,
    jobs_run,
    kill_workers_mid_send,
    pending_feed,
    sent_count,
)
from tests.helpers.logs import scan_output
from tests.helpers.servers import start_jobs_run, worker_env


async def test_two_workers_sending_at_once(
    api: Api, settings: Settings, sessions: async_sessionmaker[AsyncSession], send_log: str
) -> None:
    pks = await pending_feed(api, sessions, accounts=60, per_account=20)
    env = worker_env(settings, BANKFEEDS_SEND_CHUNK_ACCOUNTS="3")
    procs = [await start_jobs_run(env, "daily-send") for _ in range(2)]
    outputs = [await p.communicate() for p in procs]
    for _, err in outputs:
        scan_output(err)
    assert all(p.returncode == 0 for p in procs), outputs
    summaries = [out.decode() for out, _ in outputs]
    await assert_sent_once(sessions, send_log, pks, 60 * 20)
    assert all("daily-send at" in s for s in summaries)


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
    killed_mid_run = await kill_workers_mid_send(
        settings, sessions, pks, tmp_path, rounds=20, seed=20261122
    )
    assert killed_mid_run >= 10, "most rounds were cut off part-way"
    assert await sent_count(sessions, pks) > 0, "the killed workers got some of the way"
    # The next run finishes what the killed ones left.
    await jobs_run(settings, "daily-send")
    await assert_sent_once(sessions, send_log, pks, accounts * 10)
