"""The remaining figures: COPY ceiling, IDX pull at 1M rows, detection over 100k accounts, Link
step 2. Each loads its data straight into PostgreSQL (setup, untimed) and measures the service."""

from __future__ import annotations

import asyncio
import io
import subprocess
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx

from bench.cpu import cpu_seconds
from bench.harness import (
    BENCH_LIMITS,
    BIN,
    PG,
    basic,
    connected_feeds,
    fresh_schema,
    make_tenant,
    run_client,
    server,
    summary,
)
from bench.send import bench_company

DSN = PG.replace("postgresql+asyncpg://", "postgresql://")


# The columns of ceiling_batches' records: those of a push's rows (app.transactions.repository
# ROW_COLUMNS) a typical push fills.
CEILING_COLUMNS = (
    "account_pk",
    "transaction_id",
    "cleared_on",
    "description",
    "amount",
    "balance",
    "transaction_type",
    "accepted_at",
    "push_operation_key",
)


def ceiling_batches(pk: uuid.UUID, tag: str, count: int) -> list[list[tuple[Any, ...]]]:
    """`count` 1,000-row batches for one account, shaped as a push's rows
    (the nine columns and kinds of value: varying amounts and balances, a type, the push
    operation's key). Built before the clock starts: the ceiling times COPY, not Python."""
    today, now = date.today(), datetime.now(UTC)
    batches = []
    for b in range(count):
        key = uuid.uuid4()
        batches.append(
            [
                (
                    pk,
                    f"{tag}-{b}-{i}",
                    today - timedelta(days=i % 7),
                    f"Card payment {i} at a store with a realistic name",
                    Decimal(f"-{(i % 9000) + 1}.{i % 100:02d}"),
                    Decimal(f"{100000 - i}.{i % 100:02d}"),
                    "Debit",
                    now,
                    key,
                )
                for i in range(1000)
            ]
        )
    return batches


def as_copy_text(rows: list[tuple[Any, ...]]) -> bytes:
    """Rows in COPY's text format (none of the ceiling's values needs escaping)."""
    return "".join("\t".join(map(str, row)) + "\n" for row in rows).encode()


async def copy_ceiling(
    schema: str,
    account_pks: list[uuid.UUID],
    seconds: float,
    tag: str = "copy",
    text: bool = False,
) -> float:
    """Rows/s COPYing 1000-row batches (one transaction each) from one connection per account.

    Connections are opened and every row is built before the clock starts; with `text`, every
    batch is rendered to COPY's text format before it too, so that the client only sends bytes
    (asyncpg's encoding of records, about 3 ms of the client's CPU per 1000 rows, is then out of
    the clock: the ceiling of a lean client). Prints a self-check: where the CPU went while the
    clock ran (this client, the PostgreSQL backends)."""
    count = int(seconds * 120) + 5
    batches: list[list[Any]] = [
        ceiling_batches(pk, f"{tag}{n}", count) for n, pk in enumerate(account_pks)
    ]
    if text:
        batches = [[as_copy_text(rows) for rows in of] for of in batches]
    conns = [
        await asyncpg.connect(DSN, server_settings={"search_path": schema}) for _ in account_pks
    ]
    backends = [await c.fetchval("SELECT pg_backend_pid()") for c in conns]
    done = 0
    start = asyncio.Event()

    async def one(conn: Any, rows_of: list[Any]) -> None:
        nonlocal done
        await start.wait()
        stop = time.perf_counter() + seconds
        for rows in rows_of:
            if time.perf_counter() >= stop:
                break
            async with conn.transaction():
                if text:
                    await conn.copy_to_table(
                        "bank_transactions", source=io.BytesIO(rows), columns=CEILING_COLUMNS
                    )
                else:
                    await conn.copy_records_to_table(
                        "bank_transactions", records=rows, columns=CEILING_COLUMNS
                    )
            done += 1000

    try:
        tasks = [asyncio.create_task(one(c, b)) for c, b in zip(conns, batches, strict=True)]
        await asyncio.sleep(0)
        server_before = sum(cpu_seconds(pid) for pid in backends)
        client_before = time.process_time()
        started = time.perf_counter()
        start.set()
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
        client = time.process_time() - client_before
        server_cpu = sum(cpu_seconds(pid) for pid in backends) - server_before
        print(
            f"  COPY ceiling{' (pre-rendered text)' if text else ''} self-check: "
            f"{elapsed:.1f} s on the clock; this client used "
            f"{client:.1f} s of CPU ({100 * client / elapsed:.0f} % of a core), the "
            f"{len(backends)} PostgreSQL backends {server_cpu:.1f} s "
            f"({100 * server_cpu / elapsed:.0f} % of a core); rows built before the clock",
            flush=True,
        )
    finally:
        for conn in conns:
            await conn.close()
    return done / elapsed


async def account_pks(schema: str, count: int) -> list[uuid.UUID]:
    conn = await asyncpg.connect(DSN, server_settings={"search_path": schema})
    try:
        rows = await conn.fetch(
            "SELECT pk FROM source_accounts WHERE status = 'connected' LIMIT $1", count
        )
        return [r["pk"] for r in rows]
    finally:
        await conn.close()


def ingest_vs_copy(args: Any) -> dict[str, Any]:
    from bench.drive import ingest

    results: dict[str, Any] = {}
    with server(extra_env=BENCH_LIMITS) as srv:
        tenant = make_tenant(srv)
        schema = srv.env["BANKFEEDS_DB_SCHEMA"]
        feeds = connected_feeds(srv, tenant, count=8)
        api, copy = [], []
        for rep in range(args.repeats):
            api.append(
                run_client(ingest(srv.url, tenant["apiKey"], feeds[:4], args.seconds, f"r{rep}"))
            )
            pks = asyncio.run(account_pks(schema, 8))[4:8]
            copy.append(asyncio.run(copy_ceiling(schema, pks, args.seconds, f"copy{rep}-")))
    for name, values in (
        ("ingest via API, 4 clients (tx/s)", api),
        ("COPY ceiling, 4 connections (rows/s)", copy),
    ):
        results[name] = summary(values)
    results["ratio API / COPY"] = summary([a / c for a, c in zip(api, copy, strict=True)])
    return results


async def has_send_seq(conn: asyncpg.Connection, schema: str) -> bool:
    """Whether the schema numbers sent rows (absent before it, as sent_batches is before issue
    22: the same bench then measures the code before them)."""
    found = await conn.fetchval(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = $1 "
        "AND table_name = 'bank_transactions' AND column_name = 'send_seq'",
        schema,
    )
    return bool(found)


async def load_sent(schema: str, pk: uuid.UUID, rows: int, days: int) -> None:
    """`rows` sent rows over `days` daily sends (one sent_at a day, as the daily send makes
    them), numbered and counted in sent_batches as the send does it. No VACUUM: as right after
    a send."""
    conn = await asyncpg.connect(DSN, server_settings={"search_path": schema})
    try:
        base = datetime.now(UTC).replace(hour=5, minute=0, second=0, microsecond=0) - timedelta(
            days=days
        )
        per_day = rows // days
        numbered = await has_send_seq(conn, schema)
        columns = [
            "account_pk",
            "transaction_id",
            "cleared_on",
            "description",
            "amount",
            "accepted_at",
            "sent_at",
        ]
        for d in range(days):
            sent = base + timedelta(days=d)
            # The ids COPY gives grow with i, so send_seq = i + 1 is the batch's id order.
            await conn.copy_records_to_table(
                "bank_transactions",
                records=[
                    (pk, f"s{d}-{i}", sent.date(), "Card payment", Decimal("-2.00"), sent, sent)
                    + ((i + 1,) if numbered else ())
                    for i in range(per_day)
                ],
                columns=columns + (["send_seq"] if numbered else []),
            )
        if await conn.fetchval("SELECT to_regclass('sent_batches')") is not None:
            changes = ", changes" if not numbered else ""
            await conn.execute(
                f"INSERT INTO sent_batches (account_pk, sent_at, row_count{changes}) "
                f"SELECT account_pk, sent_at, count(*){', 1' if changes else ''} "
                "FROM bank_transactions "
                "WHERE account_pk = $1 AND sent_at IS NOT NULL GROUP BY account_pk, sent_at",
                pk,
            )
        await conn.execute("ANALYZE bank_transactions")
    finally:
        await conn.close()


async def sql(schema: str, statement: str) -> None:
    conn = await asyncpg.connect(DSN, server_settings={"search_path": schema})
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def plan(schema: str, pk: uuid.UUID, start: datetime, end: datetime) -> str:
    """The plan of a cold jump to the middle of the day's window, as app/idx/paging.py asks
    for it: 100 rows from (the window's batch, half its rows); before send_seq, the keyset
    page of the code then."""
    conn = await asyncpg.connect(DSN, server_settings={"search_path": schema})
    try:
        if not await has_send_seq(conn, schema):
            rows = await conn.fetch(
                "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) SELECT * FROM bank_transactions "
                "WHERE account_pk = $1 AND sent_at IS NOT NULL AND sent_at < $3 "
                "AND (sent_at, id) > ($2, 0) ORDER BY sent_at, id LIMIT 100",
                pk,
                start,
                end,
            )
            return "\n".join(r[0] for r in rows)
        batch = await conn.fetchrow(
            "SELECT sent_at, row_count / 2 AS half FROM sent_batches WHERE account_pk = $1 "
            "AND sent_at >= $2 AND sent_at < $3 ORDER BY sent_at LIMIT 1",
            pk,
            start,
            end,
        )
        rows = await conn.fetch(
            "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) SELECT id, transaction_id, cleared_on, "
            "description, amount, sent_at FROM bank_transactions "
            "WHERE account_pk = $1 AND sent_at IS NOT NULL AND sent_at < $3 "
            "AND (sent_at, send_seq) > ($2, $4) ORDER BY sent_at, send_seq LIMIT 100",
            pk,
            batch["sent_at"],
            end,
            batch["half"],
        )
        return "\n".join(r[0] for r in rows)
    finally:
        await conn.close()


def idx_pull(args: Any) -> dict[str, Any]:
    """Pages of a day's window (rows / 30 rows) on one account holding `rows` sent rows over 30
    days: walked in order and jumped to cold (straight to a page of a window nobody walked);
    either way one range scan from the page's (batch, place in batch) key. Before and after
    VACUUM. Client-measured time (HTTP included) next to Server-Timing."""
    results: dict[str, Any] = {}
    days = 30
    # QuickBooks' own pace is far below this; the bench walks faster than 600 pages a minute.
    with server(extra_env={"BANKFEEDS_IDX_REQUESTS_PER_MINUTE": "100000"}) as srv:
        tenant = make_tenant(srv)
        schema = srv.env["BANKFEEDS_DB_SCHEMA"]
        feed = connected_feeds(srv, tenant, count=1)[0]
        pk = asyncio.run(account_pks(schema, 1))[0]
        asyncio.run(load_sent(schema, pk, args.rows, days=days))
        first_day = (datetime.now(UTC) - timedelta(days=days)).date()
        pages = -(-(args.rows // days) // 100)
        path = f"/partners/intuit/idx/accounts/{feed.idx_account_id}/transactions"

        def window(d: int) -> dict[str, str]:
            day = first_day + timedelta(days=d)
            return {
                "startDate": day.isoformat(),
                "endDate": (day + timedelta(days=1)).isoformat(),
                "pageSize": "100",
            }

        async def get(
            http: httpx.AsyncClient, d: int, page: int, into: dict[str, list[tuple[float, float]]]
        ) -> None:
            t0 = time.perf_counter()
            r = await http.get(path, params={**window(d), "page": str(page)})
            client = (time.perf_counter() - t0) * 1000
            assert r.status_code == 200 and len(r.json()["results"]) > 0, r.text[:300]
            server_ms = float(r.headers["server-timing"].split("dur=")[1])
            kind = "first" if page == 1 else "last" if page == pages else "middle"
            for key in (kind, "any"):
                into.setdefault(key, []).append((client, server_ms))
            await asyncio.sleep(max(0.0, 0.02 - client / 1000))  # paced: 50 pages/s at most

        async def phase(label: str, walk_day: int, cold_days: range) -> None:
            walked: dict[str, list[tuple[float, float]]] = {}
            cold: dict[str, list[tuple[float, float]]] = {}
            async with httpx.AsyncClient(
                base_url=srv.url, headers=feed.idx_headers, timeout=30
            ) as http:
                for _ in range(2):  # the whole window, page by page, twice
                    for page in range(1, pages + 1):
                        await get(http, walk_day, page, walked)
                for d in cold_days:  # straight to a page of a window nobody walked
                    await get(http, d, pages // 2, cold)
                    await get(http, d, pages, cold)
            for name, got in (("walked", walked), ("cold jump", cold)):
                for kind in ("first", "middle", "last", "any"):
                    if kind not in got:
                        continue
                    samples = got[kind]
                    head = f"IDX 100-item page, {args.rows:,} rows, {label}, {name}, {kind}"
                    results[f"{head}, client (ms)"] = summary([c for c, _ in samples])
                    results[f"{head}, server (ms)"] = summary([s for _, s in samples])

        asyncio.run(phase("no VACUUM", 15, range(1, 8)))
        asyncio.run(sql(schema, "VACUUM ANALYZE bank_transactions"))
        asyncio.run(phase("after VACUUM", 16, range(8, 15)))
        start = datetime.combine(first_day + timedelta(days=15), datetime.min.time(), UTC)
        results["_plan"] = asyncio.run(plan(schema, pk, start, start + timedelta(days=1)))
    return results


async def load_accounts(schema: str, count: int) -> None:
    conn = await asyncpg.connect(DSN, server_settings={"search_path": schema})
    try:
        now = datetime.now(UTC)
        old = now - timedelta(days=11)
        _, company = await bench_company(conn, schema, now)
        connections = [uuid.uuid4() for _ in range(count // 10)]
        await conn.copy_records_to_table(
            "connections",
            records=[(c, company, "hcws", "Linked", now) for c in connections],
            columns=["id", "company_id", "platform_key", "status", "created_at"],
        )
        await conn.copy_records_to_table(
            "source_accounts",
            records=[
                (uuid.uuid4(), connections[n // 10], f"acc-{n}", 1, "USD", "connected", now, old)
                for n in range(count)
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
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def detection(args: Any) -> dict[str, Any]:
    seconds: list[float] = []
    wall: list[float] = []
    for _ in range(args.repeats):
        with fresh_schema() as (schema, env):
            asyncio.run(load_accounts(schema, args.accounts))
            t0 = time.perf_counter()
            out = subprocess.run(
                [str(BIN), "jobs", "run", "detect-disconnects"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            wall.append(time.perf_counter() - t0)
            assert f"accounts {args.accounts}" in out.stdout, out.stdout
            # The job's own time (its summary line), without the process's start-up.
            seconds.append(float(out.stdout.rsplit("seconds ", 1)[1].split()[0].rstrip(",")))

    return {
        f"detection scan, {args.accounts:,} accounts, the job's own time (s)": summary(seconds),
        f"detection scan, {args.accounts:,} accounts, whole process (s)": summary(wall),
    }


def link_page(args: Any) -> dict[str, Any]:
    # Five hundred page views from one address: far above a person's, so the Link pages'
    # per-address limit is raised here (the limiter still runs on every view).
    with server(extra_env={"BANKFEEDS_LINK_REQUESTS_PER_MINUTE": "100000"}) as srv:
        tenant = make_tenant(srv)
        with httpx.Client(base_url=srv.url, headers=basic(tenant["apiKey"]), timeout=30) as http:
            company = http.post("/companies", json={"name": "Link Bench"}).json()
            conn = http.post(
                f"/companies/{company['id']}/connections", json={"platformKey": "hcws"}
            ).json()
            link_path = f"/companies/{company['id']}/connections/{conn['id']}"
            base = f"{link_path}/connectionInfo/bankFeedAccounts"
            http.post(
                f"{base}/batch",
                json=[
                    {
                        "id": f"a{i}",
                        "accountName": f"Account {i}",
                        "accountType": "checking",
                        "accountNumber": f"1000{i}",
                        "currency": "USD",
                        "balance": 1234.56,
                    }
                    for i in range(5)
                ],
            )
            link = conn["linkUrl"]
        server_ms, client_ms = [], []
        with httpx.Client(timeout=30) as browser:
            browser.get(link)
            for _ in range(args.runs * 10):
                t0 = time.perf_counter()
                r = browser.get(f"{srv.url}/link/setup")
                client_ms.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200 and "Account 4" in r.text
                server_ms.append(float(r.headers["server-timing"].split("dur=")[1]))
    return {
        "Link step 2, five accounts, client-measured (ms)": summary(client_ms[10:]),
        "Link step 2, five accounts, server time (ms)": summary(server_ms[10:]),
    }
