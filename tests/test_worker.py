"""The arq worker, run for real in burst mode on real Redis."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import Worker
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import clock
from app.config import Settings
from app.connections.tables import LinkOtp
from app.worker import WorkerSettings
from tests.conftest import Api


async def test_purge_job_forgets_only_long_expired_otps(
    api: Api, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    company = await api.company()
    clock.freeze(datetime(2026, 1, 10, 9, 0, tzinfo=UTC))
    old = await api.connection(company["id"])
    clock.freeze(datetime(2026, 1, 12, 9, 0, tzinfo=UTC))
    fresh = await api.connection(company["id"])

    queue = f"test:{secrets.token_hex(4)}"
    redis_settings = RedisSettings.from_dsn(settings.redis_url or "")
    pool = await create_pool(redis_settings, default_queue_name=queue)
    try:
        await pool.enqueue_job("purge_link_otps")

        async def startup(ctx: dict[str, Any]) -> None:
            ctx["sessions"] = sessions

        worker = Worker(
            functions=WorkerSettings.functions,
            redis_settings=redis_settings,
            queue_name=queue,
            burst=True,
            on_startup=startup,
            handle_signals=False,
            poll_delay=0.05,
        )
        await worker.main()
        assert worker.jobs_complete == 1
        assert worker.jobs_failed == 0
        await worker.close()
    finally:
        await pool.aclose()

    async with sessions() as session:
        rows = (await session.execute(select(LinkOtp.connection_id))).scalars().all()
    assert any(str(r) == fresh["id"] for r in rows)
    assert not any(str(r) == old["id"] for r in rows), "expired more than a day ago: purged"
    assert clock.now() - timedelta(days=1) > datetime(2026, 1, 10, 10, 0, tzinfo=UTC)
