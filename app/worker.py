"""The arq worker: `bankfeeds worker` (or `arq app.worker.WorkerSettings`).

`worker_settings(settings)` builds what arq needs from the Settings it is given; importing this
module reads no settings. `WorkerSettings` is built on first access, from the environment, for
arq's own command line (`arq app.worker.WorkerSettings [--check]`).

Every job derives its work from the database, so a job that runs twice (arq may run one twice)
does nothing twice.
"""

from __future__ import annotations

import gc
from collections.abc import Awaitable, Callable
from typing import Any

from arq import cron
from arq.connections import RedisSettings

from app import lifecycle, vault
from app.accounts.jobs import detect_stale as _detect_stale
from app.certificates.jobs import certify_balances as _certify_balances
from app.config import Settings, get_settings
from app.db import make_engine, make_sessionmaker
from app.doctor import recorded
from app.idx.jobs import daily_send as _daily_send
from app.jobruns import registry
from app.lifecycle.detection import detect_disconnects as _detect_disconnects
from app.lifecycle.housekeeping import purge_expired as _purge_expired
from app.logs import setup_logging
from app.pendings.jobs import expire_pendings as _expire_pendings
from app.resilience import ResilientWorker
from app.retention.jobs import purge_retention as _purge_retention
from app.webhooks import egress
from app.webhooks.jobs import deliver_webhooks as _deliver_webhooks

daily_send = recorded(_daily_send)
detect_disconnects = recorded(_detect_disconnects)
deliver_webhooks = recorded(_deliver_webhooks)
purge_expired = recorded(_purge_expired)
detect_stale = recorded(_detect_stale)
purge_retention = recorded(_purge_retention)
expire_pendings = recorded(_expire_pendings)
certify_balances = recorded(_certify_balances)

_BY_NAME = {
    job.__name__: job
    for job in (
        daily_send,
        detect_disconnects,
        deliver_webhooks,
        purge_expired,
        detect_stale,
        purge_retention,
        expire_pendings,
        certify_balances,
    )
}
JOBS: dict[str, Any] = {spec.command: _BY_NAME[spec.name] for spec in registry.JOBS}


def redis_settings(settings: Settings) -> RedisSettings:
    if not settings.redis_url:
        raise RuntimeError("REDIS_URL is not set: the worker needs Redis")
    return RedisSettings.from_dsn(settings.redis_url)


async def build_ctx(ctx: dict[str, Any], settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    setup_logging(settings.log_level)
    ctx["settings"] = settings
    lifecycle.install()  # the cascades answer the domains' signals
    vault.configure(settings)  # webhook secrets are sealed at rest
    ctx["engine"] = make_engine(settings)
    ctx["sessions"] = make_sessionmaker(ctx["engine"])
    ctx["http"] = egress.client()


def on_startup(settings: Settings) -> Callable[[dict[str, Any]], Awaitable[None]]:
    async def startup(ctx: dict[str, Any]) -> None:
        await build_ctx(ctx, settings)
        gc.collect()
        gc.freeze()  # start-up objects out of the collector's view (see create_app)

    return startup


async def shutdown(ctx: dict[str, Any]) -> None:
    await ctx["http"].aclose()
    await ctx["engine"].dispose()


def _at(hhmm: str) -> dict[str, Any]:
    hour, minute = (int(part) for part in hhmm.split(":"))
    return {"hour": {hour}, "minute": {minute}}


def cron_jobs(settings: Settings) -> list[Any]:
    return [
        cron(daily_send, **_at(settings.daily_send_time), unique=True, timeout=3600),
        cron(detect_disconnects, **_at(settings.detection_time), unique=True, timeout=3600),
        cron(deliver_webhooks, second={0, 10, 20, 30, 40, 50}, unique=True, timeout=600),
        cron(purge_expired, minute={17}, unique=True),
        # Hourly: a feed goes stale within the hour after BANKFEEDS_STALE_AFTER_HOURS.
        cron(detect_stale, minute={23}, unique=True, timeout=600),
        # Daily, at a quiet minute: bounded batches, so it never holds a lock for long.
        cron(purge_retention, hour={4}, minute={41}, unique=True, timeout=3600),
        cron(expire_pendings, **_at(settings.pending_expiry_time), unique=True, timeout=3600),
        # Hourly: what pulls and sends did not certify already; digests go out once a day.
        cron(certify_balances, minute={41}, unique=True, timeout=3600),
    ]


def worker_settings(settings: Settings) -> dict[str, Any]:
    """arq's worker settings (a dict, which arq takes as it takes a class), from `settings`."""
    return {
        "functions": list(JOBS.values()),
        "cron_jobs": cron_jobs(settings),
        "on_startup": on_startup(settings),
        "on_shutdown": shutdown,
        "redis_settings": redis_settings(settings) if settings.redis_url else RedisSettings(),
        "max_jobs": 4,
    }


def make_worker(settings: Settings, **overrides: Any) -> ResilientWorker:
    """The worker `bankfeeds worker` and `bankfeeds dev` run: arq's, riding out Redis outages."""
    built = worker_settings(settings)
    built["redis_settings"] = redis_settings(settings)  # no Redis, no worker
    return ResilientWorker(**built, retry_cap=settings.redis_retry_max_seconds, **overrides)


def __getattr__(name: str) -> dict[str, Any]:
    """`arq app.worker.WorkerSettings`: built when arq asks for it, from the environment."""
    if name == "WorkerSettings":
        return worker_settings(get_settings())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
