"""A job run the way production runs it: enqueued on the suite's real Redis and run by a real
arq worker in burst mode, in this process (on the suite's database and clock)."""

from __future__ import annotations

import secrets
from typing import Any

from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import Worker
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.webhooks import egress
from app.worker import JOBS


async def run_job(settings: Settings, sessions: async_sessionmaker[AsyncSession], name: str) -> Any:
    """Enqueue `name` on real Redis and let a real arq worker run it in burst mode."""
    queue = f"test:{secrets.token_hex(4)}"
    redis_settings = RedisSettings.from_dsn(settings.redis_url or "")
    pool = await create_pool(redis_settings, default_queue_name=queue)
    http = egress.client()

    async def startup(ctx: dict[str, Any]) -> None:
        ctx.update(settings=settings, sessions=sessions, http=http)

    try:
        job = await pool.enqueue_job(name)
        assert job is not None
        worker = Worker(
            functions=list(JOBS.values()),
            redis_settings=redis_settings,
            queue_name=queue,
            burst=True,
            on_startup=startup,
            handle_signals=False,
            poll_delay=0.05,
        )
        await worker.main()
        assert worker.jobs_failed == 0
        await worker.close()
        return await job.result(timeout=5)
    finally:
        await http.aclose()
        await pool.aclose()
