"""The servers the suite runs against and starts: the test database (PostgreSQL when
DATABASE_URL is set), `bankfeeds serve` processes, and the environment of worker processes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from asyncio.subprocess import PIPE
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from app.config import Settings
from app.db import make_engine
from bench.harness import free_port
from tests.helpers.logs import scan_server_log

# Opened for the suite's loopback webhook receivers, explicitly
# (BANKFEEDS_WEBHOOK_ALLOWED_NETWORKS).
LOOPBACK_RECEIVERS = "127.0.0.0/8"


BIN = Path(sys.executable).parent / "bankfeeds"
# Where the environment's other commands are (`arq`).
BIN_DIR = BIN.parent


@dataclass
class LiveServer:
    url: str
    env: dict[str, str]
    log_path: Path


def _database_and_redis(settings: Settings) -> dict[str, str]:
    """What every process the suite starts shares: the data directory, the test database and
    Redis, and the webhook egress policy of the run."""
    env = {
        **os.environ,
        "BANKFEEDS_DATA_DIR": str(settings.data_dir),
        "REDIS_URL": settings.redis_url or "",
        "BANKFEEDS_WEBHOOK_ALLOWED_NETWORKS": settings.webhook_allowed_networks,
        "BANKFEEDS_WEBHOOK_DNS_SERVERS": settings.webhook_dns_servers,
    }
    if settings.database_url:
        env["DATABASE_URL"] = settings.database_url
    if settings.db_schema:
        env["BANKFEEDS_DB_SCHEMA"] = settings.db_schema
    return env


def server_env(settings: Settings) -> dict[str, str]:
    """The environment of a `bankfeeds serve` on the test database and Redis, with the suite's
    relaxed per-address limits (as `settings`)."""
    return {
        **_database_and_redis(settings),
        "BANKFEEDS_REDIS_PREFIX": settings.redis_prefix,
        "BANKFEEDS_IDX_REQUESTS_PER_MINUTE": str(settings.idx_requests_per_minute),
        "BANKFEEDS_LINK_REQUESTS_PER_MINUTE": str(settings.link_requests_per_minute),
        "BANKFEEDS_PORTAL_SIGN_INS_PER_MINUTE": str(settings.portal_sign_ins_per_minute),
        "BANKFEEDS_RATE_LIMIT_CONCURRENCY": str(settings.rate_limit_concurrency),
    }


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a worker process (`arq`, `bankfeeds jobs run`) on the test database
    and Redis, logging warnings only; `extra` variables added or overriding."""
    return {**_database_and_redis(settings), "BANKFEEDS_LOG_LEVEL": "WARNING", **extra}


async def start_jobs_run(
    env: dict[str, str], job: str, *, stdout: int = PIPE, stderr: int = PIPE
) -> asyncio.subprocess.Process:
    """`bankfeeds jobs run <job>` in a process of its own (its output piped unless told)."""
    return await asyncio.create_subprocess_exec(
        str(BIN), "jobs", "run", job, env=env, stdout=stdout, stderr=stderr
    )


@contextmanager
def serve(env: dict[str, str], log_dir: Path, ready: str = "/readyz") -> Iterator[tuple[str, Path]]:
    """One `bankfeeds serve` process (uvicorn) on a free port, until `ready` answers 200.

    Its log goes to a file (a pipe nobody reads would fill and stall the server), scanned for
    secrets with the suite's own log lines when the server stops.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = log_dir / f"serve-{port}.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [str(BIN), "serve", "--port", str(port)],
            env={**env, "BANKFEEDS_PUBLIC_BASE_URL": url},
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{url}{ready}", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    proc.kill()
                    pytest.fail(f"bankfeeds serve did not start:\n{log_path.read_text()}")
                time.sleep(0.1)
            yield url, log_path
        finally:
            proc.terminate()
            proc.wait(timeout=15)
            scan_server_log(log_path)


# Tests marked `configured(ON_POSTGRES, ...)` run only on PostgreSQL (see conftest.py).
ON_POSTGRES = bool(os.environ.get("DATABASE_URL"))


async def drop_schema(settings: Settings, schema: str) -> None:
    """Drop a PostgreSQL schema a test (or the session) made, with all in it."""
    engine = make_engine(settings.model_copy(update={"db_schema": None}))
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        await engine.dispose()
