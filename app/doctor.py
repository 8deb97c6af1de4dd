"""`bankfeeds doctor`: checks what the service depends on and says in plain words what is wrong."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from redis.asyncio import Redis
from sqlalchemy import text

from app import clock
from app.config import Settings
from app.db import make_engine
from app.logs import correlation_id
from app.migrate import alembic_config

# Each cron job, and how old its last run may be before something is wrong (its schedule plus
# slack: the daily jobs run once a day, webhooks every 10 s, the purge hourly).
JOB_MAX_AGE = {
    "daily_send": timedelta(hours=25),
    "detect_disconnects": timedelta(hours=25),
    "deliver_webhooks": timedelta(minutes=5),
    "purge_expired": timedelta(hours=2),
    "detect_stale": timedelta(hours=2),
}
JOB_NAMES = tuple(JOB_MAX_AGE)
MAX_SKEW_SECONDS = 5.0


def _last_run(name: str, last: dict[str, Any]) -> tuple[bool, str]:
    at = datetime.fromisoformat(last["at"])
    age = clock.now() - at
    if age <= JOB_MAX_AGE[name]:
        return True, f"{name} last ran at {last['at']}: {last.get('result')}"
    hours = age.total_seconds() / 3600
    return False, (
        f"{name} last ran {hours:.1f} h ago ({last['at']}), more than its schedule allows: "
        "check that the worker is running and look at its log"
    )


def _clock(what: str, skew: float) -> str:
    if skew <= MAX_SKEW_SECONDS:
        return f"{what} clock agrees with this host's"
    return f"{what} clock differs from this host's by {skew:.1f} s: fix NTP on one of them"


async def run(settings: Settings, say: Callable[[bool, str], None]) -> bool:
    ok = True

    def check(passed: bool, message: str) -> None:
        nonlocal ok
        ok = ok and passed
        say(passed, message)

    where = "SQLite file (embedded)" if settings.is_sqlite else "PostgreSQL"
    engine = make_engine(settings)
    try:
        async with engine.connect() as conn:
            version = (
                await conn.execute(
                    text("SELECT sqlite_version()" if settings.is_sqlite else "SHOW server_version")
                )
            ).scalar_one()
            check(True, f"database reachable: {where} {version}")
            current = await conn.run_sync(
                lambda c: MigrationContext.configure(c).get_current_revision()
            )
            head = ScriptDirectory.from_config(alembic_config(settings)).get_current_head()
            if current == head:
                check(True, f"database schema up to date (revision {head})")
            else:
                check(
                    False,
                    f"database schema at {current or 'nothing'}, the code needs {head}: "
                    "run `bankfeeds migrate`",
                )
            if not settings.is_sqlite:
                db_now = (await conn.execute(text("SELECT now()"))).scalar_one()
                skew = abs((db_now - datetime.now(UTC)).total_seconds())
                check(
                    skew <= MAX_SKEW_SECONDS,
                    _clock("database", skew),
                )
    except Exception as exc:  # any failure to reach it is what the operator needs to hear
        check(
            False,
            f"database unreachable ({type(exc).__name__}): check DATABASE_URL and that "
            "the server is up",
        )
    finally:
        await engine.dispose()

    if not settings.redis_url:
        check(
            False,
            "REDIS_URL is not set: the worker and sign-in throttling need Redis "
            "(`bankfeeds dev` starts one)",
        )
        return ok
    redis = Redis.from_url(settings.redis_url, socket_timeout=3, socket_connect_timeout=3)
    try:
        await redis.ping()
        check(True, "Redis reachable")
        seconds, micros = await redis.time()
        skew = abs(seconds + micros / 1e6 - datetime.now(UTC).timestamp())
        check(
            skew <= MAX_SKEW_SECONDS,
            _clock("Redis", skew),
        )
        beat = await redis.get("arq:queue:health-check")
        if beat:
            check(True, f"a worker is running ({beat.decode()[:80]})")
        else:
            check(
                False,
                "no worker heartbeat in Redis: start `bankfeeds worker` "
                "(or `arq app.worker.WorkerSettings`)",
            )
        for name in JOB_NAMES:
            raw = await redis.get(f"{settings.redis_prefix}job:last:{name}")
            if raw:
                check(*_last_run(name, json.loads(raw)))
            else:
                say(True, f"{name} has not run since Redis last started (or not yet)")
    except Exception as exc:
        check(
            False,
            f"Redis unreachable ({type(exc).__name__}): check REDIS_URL and that the server is up",
        )
    finally:
        await redis.aclose()
    return ok


def recorded(job: Callable[..., Any]) -> Callable[..., Any]:
    """Remember in Redis when a job last ran, how long it took and what it did, for `bankfeeds
    doctor` and for the job gauges of /metrics (the worker is another process than the API)."""
    import functools

    @functools.wraps(job)
    async def wrapper(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        # Each run gets a correlation id of its own, carried by every log line it writes.
        correlation_id.set(f"job-{job.__name__}-{uuid.uuid4().hex[:12]}")
        started = time.perf_counter()
        result = await job(ctx, *args, **kwargs)
        redis = ctx.get("redis")
        if redis is not None:
            settings: Settings = ctx["settings"]
            record = {
                "at": clock.now().isoformat(),
                "seconds": round(time.perf_counter() - started, 3),
                "result": result,
            }
            body = json.dumps(record, default=str)
            await redis.set(f"{settings.redis_prefix}job:last:{job.__name__}", body, ex=8 * 86400)
        return result

    return wrapper
