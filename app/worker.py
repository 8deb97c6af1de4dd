"""arq WorkerSettings: `arq app.worker.WorkerSettings` or `bankfeeds worker`.

Every job derives its work from the database, so running one twice is harmless.
"""

from __future__ import annotations

from typing import Any

from arq import cron
from arq.connections import RedisSettings

from app.config import get_settings
from app.connections.jobs import purge_link_otps
from app.db import make_engine, make_sessionmaker
from app.logs import setup_logging


def redis_settings() -> RedisSettings:
    url = get_settings().redis_url
    if not url:
        raise RuntimeError("REDIS_URL is not set: the worker needs Redis")
    return RedisSettings.from_dsn(url)


async def startup(ctx: dict[str, Any]) -> None:
    settings = get_settings()
    setup_logging(settings.log_level)
    ctx["settings"] = settings
    ctx["engine"] = make_engine(settings)
    ctx["sessions"] = make_sessionmaker(ctx["engine"])


async def shutdown(ctx: dict[str, Any]) -> None:
    await ctx["engine"].dispose()


class WorkerSettings:
    functions = [purge_link_otps]
    cron_jobs = [cron(purge_link_otps, minute=17, unique=True, run_at_startup=False)]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = redis_settings() if get_settings().redis_url else RedisSettings()
