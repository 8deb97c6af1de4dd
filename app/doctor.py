"""`bankfeeds doctor`: checks what the service depends on and says in plain words what is wrong."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app import clock
from app.config import Settings
from app.db import make_engine, make_sessionmaker, transaction
from app.jobruns import registry
from app.jobruns import service as jobruns
from app.jobruns.tables import JobRun
from app.logs import correlation_id
from app.migrate import alembic_config

log = logging.getLogger("app.jobs")

# Each cron job, and how old its last run may be before something is wrong.
JOB_MAX_AGE = {job.name: job.max_age for job in registry.JOBS}
JOB_NAMES = tuple(JOB_MAX_AGE)
MAX_SKEW_SECONDS = 5.0


def _last_run(name: str, last: JobRun) -> tuple[bool, str]:
    age = clock.now() - last.finished_at
    at = last.finished_at.isoformat()
    if last.outcome != "ok":
        return False, (
            f"{name}'s last run ({at}, {last.runner}) failed with {last.error}: "
            "look at the worker's log for its traceback"
        )
    if age <= JOB_MAX_AGE[name]:
        return True, (
            f"{name} last ran at {at} ({last.runner}, {last.seconds:.1f} s): "
            + ", ".join(f"{k} {v}" for k, v in (last.result or {}).items())
        )
    hours = age.total_seconds() / 3600
    return False, (
        f"{name} last ran {hours:.1f} h ago ({at}), more than its schedule allows: "
        "check that the worker is running and look at its log"
    )


def _never_ran(name: str, since: datetime | None) -> tuple[bool, str]:
    """No run recorded: fine while the service is younger than the job's window, else a fault."""
    window = JOB_MAX_AGE[name]
    if since is None or clock.now() - since <= window:
        return True, f"{name} has no run recorded yet; none is due (the service is newer)"
    return False, (
        f"{name} has no run recorded in the database, and one was due within {_span(window)}: "
        "start `bankfeeds worker` (or run `bankfeeds jobs run` by hand) and look at its log"
    )


def _span(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    return f"{seconds / 3600:.0f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def _clock(what: str, skew: float) -> str:
    if skew <= MAX_SKEW_SECONDS:
        return f"{what} clock agrees with this host's"
    return f"{what} clock differs from this host's by {skew:.1f} s: fix NTP on one of them"


Say = Callable[[bool | None, str], None]  # True ok, False fails the run, None a warning


async def run(settings: Settings, say: Say) -> bool:
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
                say(*await _connection_budget(conn, settings))
        if current == head:
            await _jobs(engine, check)
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
    except Exception as exc:
        check(
            False,
            f"Redis unreachable ({type(exc).__name__}): degraded, not down: the API still "
            'accepts pushes (/readyz stays 200 with redis "degraded") and workers wait for it; '
            "jobs and sign-in throttling resume when it is back. Check REDIS_URL and the server",
        )
    finally:
        await redis.aclose()
    return ok


async def _jobs(engine: AsyncEngine, check: Callable[[bool, str], None]) -> None:
    """Each cron job's last run as recorded in the database, by the worker or `jobs run`."""
    async with make_sessionmaker(engine)() as session:
        runs = await jobruns.all_runs(session)
        since = await jobruns.first_tenant_at(session)
    for name in JOB_NAMES:
        last = runs.get(name)
        check(*(_last_run(name, last) if last is not None else _never_ran(name, since)))


async def _connection_budget(conn: AsyncConnection, settings: Settings) -> tuple[bool | None, str]:
    """Could every process's pool, full, exceed what the server accepts? A warning, not a fault:
    pools only grow under load, and the operator knows how many processes there really are."""
    limit = int((await conn.execute(text("SHOW max_connections"))).scalar_one())
    reserved = int((await conn.execute(text("SHOW superuser_reserved_connections"))).scalar_one())
    in_use = (await conn.execute(text("SELECT count(*) FROM pg_stat_activity"))).scalar_one()
    per_process = 2 * settings.db_pool_size
    budget = settings.db_processes * per_process
    usable = limit - reserved
    figures = (
        f"{settings.db_processes} processes x {per_process} connections "
        f"(BANKFEEDS_DB_PROCESSES x 2 x BANKFEEDS_DB_POOL_SIZE) = {budget}; the server takes "
        f"{usable} (max_connections {limit} - {reserved} reserved), {in_use} in use now"
    )
    if settings.db_external_pooler:
        return True, f"connections go through an external pooler: {figures}"
    if budget > usable:
        return None, (
            f"connection budget: {figures}. Full pools could be refused: lower "
            "BANKFEEDS_DB_POOL_SIZE, raise max_connections, or put PgBouncer in front "
            "(BANKFEEDS_DB_EXTERNAL_POOLER=true); see docs/OPERATIONS.md"
        )
    return True, f"connection budget fits: {figures}"


def recorded(job: Callable[..., Any]) -> Callable[..., Any]:
    """Record in the database when a job last ran, who ran it, how long it took and what it did
    (or that it failed), for `bankfeeds doctor` and /metrics: cron and `jobs run` alike."""
    import functools

    @functools.wraps(job)
    async def wrapper(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        # Each run gets a correlation id of its own, carried by every log line it writes.
        correlation_id.set(f"job-{job.__name__}-{uuid.uuid4().hex[:12]}")
        started_at = clock.now()
        started = time.perf_counter()
        row = {"job": job.__name__, "runner": ctx.get("runner", "worker")}
        row.update(started_at=started_at, outcome="ok", error=None, result={})
        try:
            result = await job(ctx, *args, **kwargs)
        except Exception as exc:
            row.update(outcome="failed", error=type(exc).__name__[:200])
            raise
        else:
            row["result"] = result if isinstance(result, dict) else {"result": result}
            return result
        finally:
            row.update(finished_at=clock.now(), seconds=round(time.perf_counter() - started, 3))
            await _save(ctx, row)

    return wrapper


async def _save(ctx: dict[str, Any], row: dict[str, Any]) -> None:
    sessions = ctx.get("sessions")
    if sessions is None:
        return
    try:
        async with transaction(sessions) as session:
            await jobruns.record(session, row)
    except Exception as exc:  # the job's own work stands; monitoring will see a stale record
        log.warning("could not record %s's run: %s", row["job"], type(exc).__name__, exc_info=True)
