"""BANKFEEDS_DB_EXTERNAL_POOLER against a real PgBouncer in transaction mode (a throwaway one of
our own on a free port, in front of the test database): the basic flow works through it."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from app.config import Settings
from app.idx.jobs import send_all
from app.main import create_app
from app.transactions.tables import BankTransaction
from tests.helpers.builders import make_tenant
from tests.helpers.faults import Load, connected_feed, need
from tests.helpers.servers import ON_POSTGRES, free_port

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"


@pytest.fixture
def pgbouncer(settings: Settings) -> Iterator[str]:
    if not settings.database_url:
        pytest.skip("PostgreSQL only")
    need(Path(PGBOUNCER).exists(), "no pgbouncer binary (apt-get install pgbouncer)")
    tmp_path = Path(tempfile.mkdtemp(prefix="bankfeeds-pgbouncer-"))  # readable by its user
    url = make_url(settings.database_url)
    port = free_port()
    search = (
        f" connect_query='SET search_path TO {settings.db_schema}'" if settings.db_schema else ""
    )
    (tmp_path / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"bankfeeds = host={url.host} port={url.port or 5432} dbname={url.database} "
        f"user={url.username}{search}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        "auth_type = trust\n"
        f"auth_file = {tmp_path / 'users.txt'}\n"
        "pool_mode = transaction\ndefault_pool_size = 4\nmax_client_conn = 200\n"
        "ignore_startup_parameters = search_path,extra_float_digits\n"
        f"logfile = {tmp_path / 'pgbouncer.log'}\n"
    )
    (tmp_path / "users.txt").write_text(f'"{url.username}" ""\n')
    user = ["-u", "postgres"] if os.geteuid() == 0 else []
    if user:
        shutil.chown(tmp_path, "postgres")
        for name in ("pgbouncer.ini", "users.txt"):
            shutil.chown(tmp_path / name, "postgres")
    proc = subprocess.Popen(
        [PGBOUNCER, *user, str(tmp_path / "pgbouncer.ini")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while subprocess.run(
            ["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(port)], check=False
        ).returncode:
            if time.monotonic() > deadline or proc.poll() is not None:
                log_file = tmp_path / "pgbouncer.log"
                log = log_file.read_text(errors="replace") if log_file.exists() else "(no log)"
                pytest.fail(f"pgbouncer did not start: {log[-2000:]}")
            time.sleep(0.1)
        yield f"postgresql+asyncpg://{url.username}@127.0.0.1:{port}/bankfeeds"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(tmp_path, ignore_errors=True)


@pytest.mark.configured(ON_POSTGRES, "needs PostgreSQL (DATABASE_URL)")
async def test_basic_flow_through_pgbouncer_in_transaction_mode(
    settings: Settings, pgbouncer: str
) -> None:
    pooled = settings.model_copy(
        update={"database_url": pgbouncer, "db_external_pooler": True, "db_pool_size": 3}
    )
    app: Any = create_app(pooled)
    async with app.router.lifespan_context(app):
        sessions = app.state.services.sessions
        tenant = await make_tenant(sessions)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://pool.test") as http:
            path = await connected_feed(http, tenant.api_key, tenant.partner_keys["production"])
            load = Load(http, tenant.api_key, path)
            # Eight concurrent pushers on 3 + 3 client connections and 4 server connections:
            # statements of every transaction land on whichever server connection is free.
            tasks = [asyncio.create_task(load.pusher(f"pool{i}-")) for i in range(8)]
            await asyncio.sleep(2.0)
            load.stop.set()
            await asyncio.gather(*tasks)
        assert load.acked and all(s == 200 for _, _, s, _ in load.answers), load.answers[-3:]
        sent = await send_all(sessions, 50)
        assert sent["transactions"] >= len(load.acked)
        async with sessions() as session:
            unsent = await session.scalar(
                select(func.count())
                .select_from(BankTransaction)
                .where(
                    BankTransaction.transaction_id.like("pool%"), BankTransaction.sent_at.is_(None)
                )
            )
            stored = await session.scalar(
                select(func.count()).where(BankTransaction.transaction_id.like("pool%"))
            )
    assert unsent == 0 and stored == len(load.acked)
