"""A company's export at scale: one company whose account holds `--rows` sent lines (1,000,000
by default), some delivered (a pull log covering the first half), exported by
`bankfeeds companies export` to a file; measured: seconds, the exporter's peak RSS (VmHWM), the
file's size, and that every line is in it.

Data is loaded straight into PostgreSQL with COPY (setup, not measured).
"""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

from bench.harness import BIN, PG, fresh_schema, summary
from bench.send import _peak_rss_mb, bench_company, linked_connection

BATCH = 10_000  # lines per send (one sent_batches row each)


async def load(schema: str, rows: int) -> str:
    conn = await asyncpg.connect(
        PG.replace("postgresql+asyncpg://", "postgresql://"),
        server_settings={"search_path": schema},
    )
    try:
        now = datetime.now(UTC)
        tenant, company = await bench_company(conn, schema, now)
        connection = await linked_connection(conn, company, now)
        pk = uuid.uuid4()
        await conn.execute(
            "INSERT INTO source_accounts (pk, connection_id, account_id, version, currency, "
            "status, created_at) VALUES ($1, $2, 'acc-1', 1, 'USD', 'connected', $3)",
            pk,
            connection,
            now,
        )
        start = now - timedelta(days=200)
        batches = [(pk, start + timedelta(hours=n), 0) for n in range((rows + BATCH - 1) // BATCH)]
        for b, (_, sent_at, _) in enumerate(batches):
            first = b * BATCH
            count = min(BATCH, rows - first)
            batches[b] = (pk, sent_at, count)
            await conn.copy_records_to_table(
                "bank_transactions",
                records=[
                    (
                        pk,
                        f"t{first + i}",
                        date(2026, 1, 1),
                        f"Bench purchase number {first + i}",
                        Decimal("-1.25"),
                        sent_at,
                        sent_at,
                        i + 1,
                    )
                    for i in range(count)
                ],
                columns=[
                    "account_pk",
                    "transaction_id",
                    "cleared_on",
                    "description",
                    "amount",
                    "accepted_at",
                    "sent_at",
                    "send_seq",
                ],
            )
        await conn.copy_records_to_table(
            "sent_batches", records=batches, columns=["account_pk", "sent_at", "row_count"]
        )
        # One pull per batch of the first half: those lines are delivered.
        ids = await conn.fetch(
            "SELECT sent_at, min(id) AS lo, max(id) AS hi FROM bank_transactions "
            "GROUP BY sent_at ORDER BY sent_at"
        )
        pulls = [
            (
                tenant,
                "production",
                pk,
                r["sent_at"] + timedelta(minutes=5),
                1,
                1000,
                BATCH,
                BATCH,
                200,
                r["sent_at"],
                r["lo"],
                r["sent_at"],
                r["hi"],
            )
            for r in ids[: len(ids) // 2]
        ]
        await conn.copy_records_to_table(
            "idx_pulls",
            records=pulls,
            columns=[
                "tenant_id",
                "environment",
                "account_pk",
                "pulled_at",
                "page_number",
                "page_size",
                "rows",
                "total",
                "status",
                "first_sent_at",
                "first_id",
                "last_sent_at",
                "last_id",
            ],
        )
        await conn.execute("ANALYZE")
        return str(company)
    finally:
        await conn.close()


def _count(path: Path, needle: bytes) -> int:
    found, tail = 0, b""
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            block = tail + chunk
            found += block.count(needle)
            tail = block[-(len(needle) - 1) :]
            found -= tail.count(needle)
    return found


def run(args: Any) -> dict[str, Any]:
    seconds: list[float] = []
    rss: list[float] = []
    size: list[float] = []
    for _ in range(args.repeats):
        with fresh_schema() as (schema, env), tempfile.TemporaryDirectory() as tmp:
            company = asyncio.run(load(schema, args.rows))
            out = Path(tmp) / "export.json"
            started = time.perf_counter()
            proc = subprocess.Popen(
                [str(BIN), "companies", "export", company, "--out", str(out)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            peak = 0.0
            while proc.poll() is None:
                peak = max(peak, _peak_rss_mb(proc.pid))
                time.sleep(0.02)
            seconds.append(time.perf_counter() - started)
            assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
            rss.append(peak)
            size.append(out.stat().st_size / 1e6)
            assert _count(out, b'"acceptedOnUtc"') == args.rows, "every line exported"
            assert (
                _count(out, b'"status": "delivered"')
                == (len(range(0, args.rows, BATCH)) // 2) * BATCH
            )
    name = f"export of a {args.rows:,}-line company"
    return {
        f"{name} (s)": summary(seconds),
        f"{name}, exporter peak RSS (MB)": summary(rss),
        f"{name}, file size (MB)": summary(size),
    }
