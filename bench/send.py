"""The daily send at scale: 1,000,000 pending transactions over 10,000 accounts (or 10,000,000
over 100,000 with `--accounts 100000`), run by one worker or several sharing the run.

Data is loaded straight into PostgreSQL with COPY (setup, not measured); the send runs as
`bankfeeds jobs run daily-send` in `--send-workers` processes of their own started together (they
share the run by claiming chunks of accounts with FOR UPDATE SKIP LOCKED), timed from the start of
the first to the end of the last, with each one's peak RSS (VmHWM).
"""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import asyncpg

from bench.harness import BIN, PG, fresh_schema, summary


async def bench_company(
    conn: asyncpg.Connection, schema: str, now: datetime
) -> tuple[uuid.UUID, uuid.UUID]:
    """A tenant and its production company, straight into the schema: (tenant, company)."""
    tenant, company = uuid.uuid4(), uuid.uuid4()
    await conn.execute(
        "INSERT INTO tenants VALUES ($1, $2, 'America/Toronto', $3)", tenant, f"bench-{schema}", now
    )
    await conn.execute(
        "INSERT INTO companies (id, tenant_id, environment, name, tags, created_at) "
        "VALUES ($1, $2, 'production', 'Bench', '{}', $3)",
        company,
        tenant,
        now,
    )
    return tenant, company


async def linked_connection(
    conn: asyncpg.Connection, company: uuid.UUID, now: datetime
) -> uuid.UUID:
    connection = uuid.uuid4()
    await conn.execute(
        "INSERT INTO connections (id, company_id, platform_key, status, created_at) "
        "VALUES ($1, $2, 'hcws', 'Linked', $3)",
        connection,
        company,
        now,
    )
    return connection


async def owner(
    conn: asyncpg.Connection, schema: str, now: datetime
) -> tuple[uuid.UUID, uuid.UUID]:
    """A tenant, its company and a Linked connection: (company, connection)."""
    _, company = await bench_company(conn, schema, now)
    return company, await linked_connection(conn, company, now)


async def add_accounts(
    conn: asyncpg.Connection, connection: uuid.UUID, accounts: int, now: datetime
) -> list[uuid.UUID]:
    pks = [uuid.uuid4() for _ in range(accounts)]
    await conn.copy_records_to_table(
        "source_accounts",
        records=[
            (pk, connection, f"acc-{n}", 1, "USD", "connected", now, now)
            for n, pk in enumerate(pks)
        ],
        columns=[
            "pk",
            "connection_id",
            "account_id",
            "version",
            "currency",
            "status",
            "created_at",
            "last_queried_at",
        ],
    )
    return pks


async def load(schema: str, accounts: int, per_account: int) -> None:
    conn = await asyncpg.connect(
        PG.replace("postgresql+asyncpg://", "postgresql://"),
        server_settings={"search_path": schema},
    )
    try:
        now = datetime.now(UTC)
        company, connection = await owner(conn, schema, now)
        pks = await add_accounts(conn, connection, accounts, now)
        ops = [uuid.uuid4() for _ in range(accounts)]
        await conn.copy_records_to_table(
            "push_operations",
            records=[
                (op, company, connection, pk, f"acc-{n}", "Pending", 202, per_account, now, "[]")
                for n, (op, pk) in enumerate(zip(ops, pks, strict=True))
            ],
            columns=[
                "key",
                "company_id",
                "connection_id",
                "account_pk",
                "account_id",
                "status",
                "status_code",
                "transaction_count",
                "requested_at",
                "warnings",
            ],
        )
        day = date.today()
        # 1,000 accounts a COPY (100,000 rows at the default 100 each): the loader's own memory
        # stays flat whatever the total.
        for start in range(0, accounts, 1000):
            rows = [
                (pk, f"t{i}", day, "Bench purchase", Decimal("-1.25"), now, op)
                for pk, op in zip(pks[start : start + 1000], ops[start : start + 1000], strict=True)
                for i in range(per_account)
            ]
            await conn.copy_records_to_table(
                "bank_transactions",
                records=rows,
                columns=[
                    "account_pk",
                    "transaction_id",
                    "cleared_on",
                    "description",
                    "amount",
                    "accepted_at",
                    "push_operation_key",
                ],
            )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def _peak_rss_mb(pid: int) -> float:
    """The process's peak RSS (VmHWM) so far. Read from /proc rather than wait4's ru_maxrss,
    which also counts the moment between fork and exec, when the child is a copy of this (large)
    benchmark process."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0.0


def run(args: Any) -> dict[str, Any]:
    results: dict[str, Any] = {}
    seconds: list[float] = []
    rss: list[float] = []
    workers = max(1, getattr(args, "send_workers", 1))
    for _ in range(args.repeats):
        with fresh_schema() as (schema, env):
            asyncio.run(load(schema, args.accounts, args.per_account))
            started = time.perf_counter()
            procs = [
                subprocess.Popen(
                    [str(BIN), "jobs", "run", "daily-send"],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                )
                for _ in range(workers)
            ]
            peaks = [0.0] * workers
            while any(p.poll() is None for p in procs):
                for n, proc in enumerate(procs):
                    if proc.poll() is None:
                        peaks[n] = max(peaks[n], _peak_rss_mb(proc.pid))
                time.sleep(0.02)
            seconds.append(time.perf_counter() - started)
            rss.append(max(peaks))
            said = [p.stdout.read().decode() if p.stdout else "" for p in procs]
            assert all(p.returncode == 0 for p in procs), said
            shares = [int(s.split("transactions ")[1].split(",")[0]) for s in said]
            sent = sum(shares)
            # Together the workers sent every pending transaction exactly once.
            assert sent == args.accounts * args.per_account, said
            if workers > 1:
                print(f"  ({workers} workers sent {shares} transactions)", flush=True)
    total = args.accounts * args.per_account
    by = "one worker" if workers == 1 else f"{workers} workers"
    name = f"daily send {total:,} tx / {args.accounts:,} accounts, {by} (s)"
    results[name] = summary(seconds)
    results[f"daily send, {by}, largest worker peak RSS (MB)"] = summary(rss)
    return results
