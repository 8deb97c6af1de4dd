"""Balance certification at scale: `--accounts` accounts (10,000 by default) by `--days` days
(30) of sent lines with running balances, every one fetched by QuickBooks (a pull log row per
account covering them). Measured: the first `bankfeeds jobs run certify-balances` (every day of
every account), then, after one more day of lines sent and pulled, the incremental run, which
must touch only the new day (one revision per account).

Data is loaded with COPY (setup, not measured).
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from bench.harness import BIN, PG, fresh_schema, summary
from bench.send import add_accounts, owner

LINES_PER_DAY = 2


async def _connect(schema: str) -> asyncpg.Connection:
    return await asyncpg.connect(
        PG.replace("postgresql+asyncpg://", "postgresql://"),
        server_settings={"search_path": schema},
    )


async def add_days(schema: str, first: date, days: int, sent_at: datetime) -> None:
    """Days [first, first + days) of lines on every account, sent at `sent_at` and pulled a
    minute later (one pull log row per account covering its new lines)."""
    conn = await _connect(schema)
    try:
        pks = [r["pk"] for r in await conn.fetch("SELECT pk FROM source_accounts ORDER BY pk")]
        start = (first - date(2026, 1, 1)).days
        for chunk in range(0, len(pks), 500):
            rows = []
            for pk in pks[chunk : chunk + 500]:
                seq = 0
                for d in range(days):
                    on = first + timedelta(days=d)
                    for n in range(LINES_PER_DAY):
                        seq += 1
                        # -1.25 a line from 10,000.00 at 2026-01-01: the balance is exact.
                        index = (start + d) * LINES_PER_DAY + n + 1
                        balance = Decimal("10000.00") - Decimal("1.25") * index
                        amount = Decimal("-1.25")
                        rows.append(
                            (pk, f"t{index}", on, "Bench", amount, balance, sent_at, sent_at, seq)
                        )
            await conn.copy_records_to_table(
                "bank_transactions",
                records=rows,
                columns=[
                    "account_pk",
                    "transaction_id",
                    "cleared_on",
                    "description",
                    "amount",
                    "balance",
                    "accepted_at",
                    "sent_at",
                    "send_seq",
                ],
            )
        tenant = await conn.fetchval("SELECT id FROM tenants")
        await conn.execute(
            "INSERT INTO idx_pulls (tenant_id, environment, account_pk, pulled_at, page_number, "
            "page_size, rows, total, status, first_sent_at, first_id, last_sent_at, last_id) "
            "SELECT $1, 'production', account_pk, $2, 1, 5000, count(*), count(*), 200, "
            "min(sent_at), min(id), max(sent_at), max(id) FROM bank_transactions "
            "WHERE sent_at = $3 GROUP BY account_pk",
            tenant,
            sent_at + timedelta(minutes=1),
            sent_at,
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def load(schema: str, accounts: int) -> None:
    conn = await _connect(schema)
    try:
        now = datetime.now(UTC)
        _, connection = await owner(conn, schema, now)
        await add_accounts(conn, connection, accounts, now)
    finally:
        await conn.close()


async def counts(schema: str) -> dict[str, int]:
    conn = await _connect(schema)
    try:
        rows = await conn.fetch(
            "SELECT status, count(*) AS n FROM balance_certificates WHERE is_current "
            "GROUP BY status"
        )
        out = {r["status"]: int(r["n"]) for r in rows}
        out["revisions"] = int(await conn.fetchval("SELECT count(*) FROM balance_certificates"))
        return out
    finally:
        await conn.close()


def _job(env: dict[str, str], at: datetime) -> float:
    started = time.perf_counter()
    ran = subprocess.run(
        [str(BIN), "jobs", "run", "certify-balances", "--now", at.isoformat()],
        env=env,
        capture_output=True,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr.decode()[-2000:]
    return time.perf_counter() - started


def run(args: Any) -> dict[str, Any]:
    first_runs: list[float] = []
    next_runs: list[float] = []
    days, accounts = args.days, args.accounts
    first = date(2026, 1, 1)
    for _ in range(args.repeats):
        with fresh_schema() as (schema, env):
            sent = datetime(2026, 2, 1, 6, 0, tzinfo=UTC)
            asyncio.run(load(schema, accounts))
            asyncio.run(add_days(schema, first, days, sent))
            first_runs.append(_job(env, sent + timedelta(hours=1)))
            found = asyncio.run(counts(schema))
            assert found.get("certified") == accounts * days, found
            later = sent + timedelta(days=1)
            asyncio.run(add_days(schema, first + timedelta(days=days), 1, later))
            next_runs.append(_job(env, later + timedelta(hours=1)))
            again = asyncio.run(counts(schema))
            # Incremental: exactly one new revision per account, the new day, certified.
            assert again["revisions"] == found["revisions"] + accounts, again
            assert again.get("certified") == accounts * (days + 1), again
    total = f"{accounts:,} accounts by {days} days"
    return {
        f"certify-balances, first run over {total} (s)": summary(first_runs),
        f"certify-balances, next day's run over {accounts:,} accounts (s)": summary(next_runs),
    }
