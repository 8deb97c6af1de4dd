"""Operations that stay up: a worker through a 30-second Redis outage, readiness that follows
the database only, every send recorded in the database whoever ran it, JSON logs without query
strings, and the setting for PgBouncer in transaction mode."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from arq import create_pool
from arq.connections import RedisSettings
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import clock
from app.cli import main
from app.config import Settings, get_settings
from app.db import make_engine
from app.jobruns.repository import all_runs
from app.jobruns.tables import JobRun
from app.logs import JsonFormatter, setup_logging
from app.main import create_app
from bench.throwaway import ThrowawayRedis
from tests.helpers.builders import make_tenant
from tests.helpers.clients import Linkable, metric_value
from tests.helpers.feeds import connect, day, tx
from tests.helpers.logs import scan_output
from tests.helpers.servers import BIN, ON_POSTGRES, free_port, worker_env

OUTAGE_SECONDS = 30


async def _last_run(sessions: async_sessionmaker[AsyncSession], job: str) -> JobRun | None:
    async with sessions() as session:
        return (await all_runs(session)).get(job)


async def _ran_after(
    sessions: async_sessionmaker[AsyncSession], job: str, moment: datetime, within: float
) -> JobRun:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        last = await _last_run(sessions, job)
        if last is not None and last.finished_at > moment:
            return last
        await asyncio.sleep(0.25)
    raise AssertionError(f"{job} did not run after {moment.isoformat()} within {within} s")


def _json_lines(raw: bytes) -> list[dict[str, Any]]:
    lines = [line for line in raw.decode(errors="replace").splitlines() if line.strip()]
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"a log line that is not JSON: {line[:300]}") from None
    return parsed


async def test_worker_rides_out_a_30_second_redis_outage(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    redis = ThrowawayRedis(tmp_path / "redis")
    redis.start()
    log_path = tmp_path / "worker.log"
    env = worker_env(
        settings,
        REDIS_URL=redis.url,
        BANKFEEDS_LOG_LEVEL="INFO",
        BANKFEEDS_REDIS_RETRY_MAX_SECONDS="2",
    )
    with log_path.open("wb") as log_file:
        worker = await asyncio.create_subprocess_exec(str(BIN), "worker", env=env, stderr=log_file)
    try:
        started = datetime.now(UTC)
        # The webhook cron ticks every 10 s: the worker is up and its cron runs.
        await _ran_after(sessions, "deliver_webhooks", started, within=30)
        # A job queued now, due while Redis is away: it must run once Redis is back.
        pool = await create_pool(RedisSettings.from_dsn(redis.url))
        queued = await pool.enqueue_job("daily_send", _defer_by=timedelta(seconds=5))
        assert queued is not None
        await pool.aclose()

        await asyncio.to_thread(redis.stop)
        await asyncio.sleep(OUTAGE_SECONDS)
        assert worker.returncode is None, "the worker is still running after 30 s without Redis"
        await asyncio.to_thread(redis.start)
        back = datetime.now(UTC)

        tick = await _ran_after(sessions, "deliver_webhooks", back, within=30)
        assert tick.runner == "worker" and tick.outcome == "ok", "the next cron tick ran"
        send = await _ran_after(sessions, "daily_send", started, within=30)
        assert send.outcome == "ok", "the job queued before the outage ran after it"
        assert worker.returncode is None
    finally:
        worker.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(worker.wait(), 30)
        redis.stop()
    raw = log_path.read_bytes()
    scan_output(raw)
    lines = _json_lines(raw)  # arq's start-up lines and every other line: JSON
    assert code == 0, raw.decode()[-2000:]
    assert any(e["logger"].startswith("arq") and "Starting worker" in e["msg"] for e in lines)
    states = [e["redis"] for e in lines if e["logger"] == "app.worker" and "redis" in e]
    assert states == ["lost", "retrying", "back"], states
    back_line = next(e for e in lines if e.get("redis") == "back")
    assert back_line["downSeconds"] >= OUTAGE_SECONDS - 1


def _app_on(settings: Settings, **changes: Any) -> Any:
    return create_app(settings.model_copy(update=changes))


async def _get(app: Any, path: str) -> httpx.Response:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ops.test") as http:
            return await http.get(path)


async def test_readyz_follows_the_database_and_reports_redis_degraded(
    settings: Settings, tmp_path: Path
) -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    up = await _get(_app_on(settings), "/readyz")
    assert (up.status_code, up.json()) == (200, {"status": "ok", "database": "ok", "redis": "ok"})

    no_redis = _app_on(settings, redis_url=nowhere)
    ready = await _get(no_redis, "/readyz")
    assert ready.status_code == 200, "Redis down does not take the API out of service"
    assert ready.json() == {"status": "degraded", "database": "ok", "redis": "degraded"}
    scraped = await _get(no_redis, "/metrics")
    assert metric_value(scraped.text, "bankfeeds_redis_up") == 0
    assert metric_value((await _get(_app_on(settings), "/metrics")).text, "bankfeeds_redis_up") == 1

    if settings.is_sqlite:
        database = f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'dir' / 'x.db'}"
        (tmp_path / "missing").write_text("a file where a directory should be")
    else:
        database = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/test"
    down = await _get(_app_on(settings, database_url=database), "/readyz")
    assert down.status_code == 503, "no database: no pushes, out of service"
    assert down.json()["status"] == "unavailable"
    assert down.json()["database"].startswith("unavailable (")


async def test_a_send_run_by_hand_shows_in_doctor_and_metrics_after_a_redis_restart(
    linkable: Linkable,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    feed = await connect(linkable)
    assert (await feed.push([tx("m1", day(-1)), tx("m2", day(0))])).status_code == 200
    clock.reset()
    redis = ThrowawayRedis(tmp_path / "redis", persist=False)
    redis.start()
    monkeypatch.setenv("REDIS_URL", redis.url)
    for name, value in worker_env(settings).items():
        if name.startswith(("BANKFEEDS_", "DATABASE_URL")):
            monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        before = datetime.now(UTC)
        ran = await asyncio.to_thread(CliRunner().invoke, main, ["jobs", "run", "daily-send"])
        assert ran.exit_code == 0, ran.output
        last = await _last_run(sessions, "daily_send")
        assert last is not None and last.runner == "cli" and last.finished_at >= before
        assert last.result["transactions"] >= 2 and last.result["accounts"] >= 1
        # Redis restarted empty: nothing about the send lived there.
        await asyncio.to_thread(redis.stop)
        await asyncio.to_thread(redis.start)
        doctor = await asyncio.to_thread(CliRunner().invoke, main, ["doctor"])
        line = next(x for x in doctor.output.splitlines() if "daily_send" in x)
        assert line.startswith("ok") and f"at {last.finished_at.isoformat()} (cli" in line, line
        assert f"transactions {last.result['transactions']}" in line
        scraped = (await _get(_app_on(settings, redis_url=redis.url), "/metrics")).text
    finally:
        redis.stop()
        get_settings.cache_clear()
    assert (
        metric_value(scraped, "bankfeeds_daily_send_last_transactions")
        == (last.result["transactions"])
    )
    assert metric_value(scraped, "bankfeeds_daily_send_last_accounts") == last.result["accounts"]
    stamp = metric_value(scraped, "bankfeeds_job_last_run_timestamp_seconds", job="daily_send")
    assert stamp == pytest.approx(last.finished_at.timestamp())
    assert metric_value(scraped, "bankfeeds_job_last_run_failed", job="daily_send") == 0


async def test_doctor_fails_when_no_send_is_recorded_within_the_window(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    from app import doctor

    said: list[tuple[bool | None, str]] = []
    # The service has served a tenant since now (with no tenant at all, as when this test runs
    # first in a fresh schema, no send is due yet and doctor rightly passes).
    await make_tenant(sessions)
    async with sessions() as session:
        await session.execute(text("DELETE FROM job_runs WHERE job = 'daily_send'"))
        await session.commit()
    clock.freeze(datetime.now(UTC) + timedelta(days=400))  # every tenant is older than 25 h
    assert not await doctor.run(settings, lambda ok, msg: said.append((ok, msg)))
    missing = [m for ok, m in said if ok is False and "daily_send has no run recorded" in m]
    assert missing, said


def test_uncaught_exceptions_and_library_lines_are_json_without_query_strings() -> None:
    script = (
        "import logging; from app.logs import setup_logging; setup_logging();"
        "logging.getLogger('httpx').info('HTTP Request: POST https://r.test/h?token=s3cret');"
        "logging.getLogger('httpx').warning('retry https://r.test/h?token=s3cret');"
        "raise RuntimeError('failed at https://r.test/h?token=s3cret')"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, check=False)
    assert done.returncode == 1
    lines = _json_lines(done.stderr)
    assert [e["level"] for e in lines] == ["WARNING", "CRITICAL"], "httpx's INFO lines are off"
    assert lines[0]["msg"] == "retry https://r.test/h"
    assert lines[1]["exc"] == "RuntimeError" and "Traceback" in lines[1]["traceback"]
    assert b"s3cret" not in done.stderr and b"?token" not in done.stderr


def test_logged_tracebacks_are_one_json_line() -> None:
    import logging

    setup_logging()
    message = "bad http://x.test/a?b=c"
    try:
        raise ValueError(message)
    except ValueError:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "m", (), sys.exc_info())
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["exc"] == "ValueError" and "test_operations.py" in entry["traceback"]
    assert "x.test" not in entry["traceback"], "frames and types, never the message"


@pytest.mark.configured(ON_POSTGRES, "needs PostgreSQL (DATABASE_URL)")
async def test_external_pooler_setting_reaches_asyncpg(settings: Settings) -> None:
    engine = make_engine(settings.model_copy(update={"db_external_pooler": True}))
    try:
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            adapted: Any = raw.driver_connection
            assert adapted._stmt_cache.get_max_size() == 0, "asyncpg's statement cache is off"
            assert raw.dbapi_connection._prepared_statement_cache is None
            names = {raw.dbapi_connection._prepared_statement_name_func() for _ in range(2)}
            assert len(names) == 2 and all(n.startswith("__asyncpg_") for n in names)
            assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await engine.dispose()
