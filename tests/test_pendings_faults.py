"""The daily send SIGKILLed mid-run while holds and links are in flight (the expiry job queued in
the same worker): nothing lost, nothing sent twice, no link or hold lost, no hold published."""

from __future__ import annotations

import asyncio
import random
import signal
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from arq import create_pool
from arq.connections import RedisSettings
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import transaction
from app.embedded_redis import EmbeddedRedis
from app.pendings.linking import served_dates
from app.pendings.tables import PendingLink, PendingTransaction
from app.transactions.tables import BankTransaction
from tests.helpers import BIN, Api, scan_output, scan_server_log
from tests.test_send_faults import (  # noqa: F401 (send_log is a fixture)
    BIN_DIR,
    assert_sent_once,
    pending_feed,
    send_log,
    sent_count,
    worker_env,
)

# Relative to the real today: the worker processes read the real clock. The held ones are
# past the 14 days of a deposit account; none has ended long enough ago to be purged.
AUTHORIZED = datetime.now(UTC).date() - timedelta(days=20)


async def _holds(sessions: async_sessionmaker[AsyncSession], pks: list[uuid.UUID]) -> int:
    """Per account: t0..t4 linked to holds h0..h4 (before publication), h5..h7 still held."""
    now = datetime.now(UTC)
    rows, links = [], []
    for pk in pks:
        for i in range(8):
            rows.append(
                {
                    "pk": uuid.uuid4(),
                    "account_pk": pk,
                    "pending_id": f"h{i}",
                    "authorized_on": AUTHORIZED,
                    "amount": Decimal("-1.00"),
                    "description": "Hold",
                    "status": "posted" if i < 5 else "held",
                    "created_at": now,
                    "updated_at": now,
                    "ended_at": now if i < 5 else None,
                    "history": [],
                }
            )
            if i < 5:
                links.append(
                    {
                        "account_pk": pk,
                        "pending_id": f"h{i}",
                        "transaction_id": f"t{i}",
                        "state": "linked",
                        "matched_by": "pendingTransactionId",
                        "partial": False,
                        "cleared_amount": Decimal("-1.00"),
                        "amount_delta": Decimal("0.00"),
                        "serve_authorized_on": AUTHORIZED,
                        "created_at": now,
                        "linked_at": now,
                    }
                )
    async with transaction(sessions) as session:
        await session.execute(insert(PendingTransaction), rows)
        await session.execute(insert(PendingLink), links)
    return len(links)


async def test_sigkilled_sends_with_holds_and_links_in_flight(
    api: Api,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    send_log: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    accounts = 150 if settings.database_url else 1500
    pks = await pending_feed(api, sessions, accounts=accounts, per_account=10)
    link_count = await _holds(sessions, pks)
    rng = random.Random(20261206)
    killed = 0
    for round_ in range(8):
        with EmbeddedRedis(tmp_path / f"redis-{round_}") as redis_server:
            pool = await create_pool(RedisSettings.from_dsn(redis_server.url))
            await pool.enqueue_job("expire_pendings")
            await pool.enqueue_job("daily_send")
            await pool.aclose()
            env = worker_env(
                settings, REDIS_URL=redis_server.url, BANKFEEDS_SEND_CHUNK_ACCOUNTS="1"
            )
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
            while proc.returncode is None and await sent_count(sessions, pks) == before:  # noqa: ASYNC110 (polls the database)
                await asyncio.sleep(0.002)
            await asyncio.sleep(rng.uniform(0, 0.005))
            if proc.returncode is None:
                proc.send_signal(signal.SIGKILL)
                killed += 1
            await proc.wait()
            scan_server_log(tmp_path / f"worker-{round_}.log")
    assert killed >= 4, "most rounds were cut off part-way"
    for job in ("daily-send", "expire-pendings"):
        final = await asyncio.create_subprocess_exec(
            str(BIN),
            "jobs",
            "run",
            job,
            env=worker_env(settings),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await final.communicate()
        scan_output(err)
        assert final.returncode == 0, err.decode()[-2000:]
    await assert_sent_once(sessions, send_log, pks, accounts * 10)
    async with sessions() as session:
        links = (
            await session.execute(
                select(func.count()).where(
                    PendingLink.account_pk.in_(pks), PendingLink.state == "linked"
                )
            )
        ).scalar_one()
        statuses = dict(
            (
                await session.execute(
                    select(PendingTransaction.status, func.count())
                    .where(PendingTransaction.account_pk.in_(pks))
                    .group_by(PendingTransaction.status)
                )
            ).all()
        )
        published_holds = (
            await session.execute(
                select(func.count()).where(
                    BankTransaction.account_pk.in_(pks),
                    BankTransaction.transaction_id.like("h%"),
                )
            )
        ).scalar_one()
        dates = await served_dates(session, pks[0], [f"t{i}" for i in range(10)])
    assert links == link_count, "no link lost"
    # The holds still held (authorized in March, far more than 14 days before the real today)
    # expired, exactly once each; the linked ones stayed posted.
    assert statuses == {"posted": accounts * 5, "expired": accounts * 3}
    assert published_holds == 0
    assert dates == {f"t{i}": AUTHORIZED for i in range(5)}
