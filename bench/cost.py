"""Cost per request: CPU seconds per request of the API process(es), PostgreSQL, Redis and the
client, for 1-, 100- and 1000-item pushes and an IDX page, each driven twice: by bench's own
client (load.py's minimal HTTP/1.1 on uvloop, in this process) and by an independent one (the
standard library's `http.client`, keep-alive, one process per client: `bench.independent`).

Every figure comes from `/proc` (`bench.cpu`) sampled right before and right after the measured
window; set-up (tenants, feeds, bodies, connections, a warm-up request) is outside it. The
1000-item pushes also give the API/COPY ratio against a COPY ceiling measured in the same run.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from bench import cpu, independent
from bench.drive import Drive, drive, drive_requests
from bench.harness import (
    BENCH_LIMITS,
    PG,
    REDIS,
    FeedRef,
    Server,
    basic,
    connected_feeds,
    make_tenant,
    run_client,
    server,
    summary,
    toronto_today,
)

COST_LIMITS = {**BENCH_LIMITS, "BANKFEEDS_IDX_REQUESTS_PER_MINUTE": "10000000"}
SHAPES = (("1-item push", 1), ("100-item push", 100), ("1000-item push", 1000), ("IDX page", 0))
IDX_ROWS, IDX_DAYS = 30_000, 30  # 1,000 sent rows a day: ten 100-row pages a window


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (every process, anyone's): /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / cpu.TICK


@dataclass
class Cost:
    """One measured window: requests, their latencies and the CPU each part spent."""

    shape: str
    client: str
    clients: int
    requests: int
    elapsed: float
    latencies: list[float]
    api: float
    postgres: float
    own_backends: float
    redis: float
    client_cpu: float
    machine: float

    def per(self, seconds: float) -> float:
        """Milliseconds of CPU a request."""
        return 1000 * seconds / max(self.requests, 1)

    @property
    def ratio(self) -> float:
        return self.api / self.postgres if self.postgres else float("nan")

    def p(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0

    def row(self) -> str:
        ours = self.api + self.postgres + self.redis + self.client_cpu
        return (
            f"| {self.shape} | {self.client} | {self.requests / self.elapsed:.0f} "
            f"| {statistics.median(self.latencies):.2f} | {self.p(0.99):.2f} "
            f"| {self.per(self.api):.3f} | {self.per(self.postgres):.3f} "
            f"| {self.per(self.own_backends):.3f} | {self.per(self.redis):.3f} "
            f"| {self.per(self.client_cpu):.3f} | **{self.ratio:.2f}** "
            f"| {self.api / self.own_backends if self.own_backends else float('nan'):.2f} "
            f"| {ours / self.elapsed:.2f} / {self.machine / self.elapsed:.2f} |"
        )


HEAD = (
    "| shape | client | req/s | p50 ms | p99 ms | API CPU ms/req | PostgreSQL (every postgres "
    "process) | of which the API's backends | Redis | client | API ÷ PostgreSQL "
    "| API ÷ its backends | cores busy: ours / whole box |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def _cost(shape: str, client: str, clients: int, got: Drive, meter: cpu.Meter) -> Cost:
    """A Cost from a window's marks ((cpu.Sample, machine busy) before and after): the client's
    CPU is the window's "client" group if it has one (separate processes), else the one `got`
    measured in this process."""
    assert got.marks is not None
    (before, busy_before), (after, busy_after) = got.marks
    own = meter.own_backends()
    used = cpu.spent(before, after)
    return Cost(
        shape,
        client,
        clients,
        got.pushes,
        got.elapsed,
        got.latencies,
        api=used["api"],
        postgres=used["postgres"],
        own_backends=cpu.spent(before, after, only={"postgres": own})["postgres"],
        redis=used["redis"],
        client_cpu=used.get("client", got.client_cpu),
        machine=busy_after - busy_before,
    )


async def _load_sent(schema: str, feed: FeedRef) -> None:
    """IDX_ROWS sent rows on the feed's account, over IDX_DAYS daily batches (as more.py's IDX
    scenario loads them, smaller)."""
    from bench.more import DSN, load_sent

    connection_id = uuid.UUID(feed.connection_path.rsplit("/", 1)[1])
    conn = await asyncpg.connect(DSN, server_settings={"search_path": schema})
    try:
        pk = await conn.fetchval(
            "SELECT pk FROM source_accounts WHERE connection_id = $1 AND account_id = $2",
            connection_id,
            feed.account_id,
        )
    finally:
        await conn.close()
    await load_sent(schema, pk, IDX_ROWS, days=IDX_DAYS)


def idx_paths(feed: FeedRef) -> list[str]:
    """Every page of ten days' windows (first to last page), in order."""
    first = (datetime.now(UTC) - timedelta(days=IDX_DAYS)).date()
    path = f"/partners/intuit/idx/accounts/{feed.idx_account_id}/transactions"
    pages = -(-(IDX_ROWS // IDX_DAYS) // 100)
    return [
        f"{path}?startDate={first + timedelta(days=d)}&endDate={first + timedelta(days=d + 1)}"
        f"&pageSize=100&page={page}"
        for d in range(10, 20)
        for page in range(1, pages + 1)
    ]


def section(
    srv: Server, key: str, feeds: list[FeedRef], idx_feed: FeedRef, args: Any
) -> dict[str, Any]:
    """Both clients on every shape (`feeds`: one per client), then the two COPY ceilings; prints
    the table and returns its figures for the summary (latencies; API ÷ PostgreSQL; API/COPY)."""
    from bench.more import account_pks, copy_ceiling

    schema = srv.env["BANKFEEDS_DB_SCHEMA"]
    asyncio.run(_load_sent(schema, idx_feed))
    meter = cpu.Meter.of(srv.pids or [srv.pid], PG, REDIS)
    seconds, n = args.seconds, len(feeds)
    today = toronto_today().isoformat()
    pages = idx_paths(idx_feed)

    def probe(extra: dict[str, list[int]] | None = None) -> tuple[cpu.Sample, float]:
        return cpu.sample({**meter.groups(), **(extra or {})}), machine_busy()

    costs: list[Cost] = []
    for shape, items in SHAPES:
        tag = f"cost{items}-{time.monotonic_ns()}"
        # Warm-up: every client's connection, the API's pool, one request each (untimed).
        if items:
            run_client(drive(srv.url, key, feeds, 0.3, f"{tag}w", items))
            own = run_client(drive(srv.url, key, feeds, seconds, tag, items, probe))
        else:
            plans = [[("GET", p, b"") for p in pages[c::n]] for c in range(n)]
            run_client(drive_requests(srv.url, idx_feed.idx_headers, plans, 0.3))
            own = run_client(
                drive_requests(srv.url, idx_feed.idx_headers, plans, seconds, 0, probe)
            )
        costs.append(_cost(shape, "bench (in-process, uvloop)", n, own, meter))
        if items:
            headers = {**basic(key), "Content-Type": "application/json"}
            jobs = [
                independent.Job(
                    srv.url, headers, seconds, f.push_path, f.account_id, items, f"{tag}i{c}", today
                )
                for c, f in enumerate(feeds)
            ]
        else:
            jobs = [
                independent.Job(srv.url, idx_feed.idx_headers, seconds, paths=tuple(pages[c::n]))
                for c in range(n)
            ]
        got = independent.run(jobs, lambda pids: probe({"client": pids}))
        window = Drive(
            got.requests, items, got.elapsed, got.latencies, 0.0, (got.before, got.after)
        )
        costs.append(_cost(shape, f"independent (http.client, {n} processes)", n, window, meter))
    pks = asyncio.run(account_pks(schema, 4))
    ceilings = {
        text: asyncio.run(
            copy_ceiling(schema, pks, seconds, f"costcopy{text}{time.monotonic_ns()}-", text=text)
        )
        for text in (False, True)
    }
    workers = getattr(args, "workers", 1)
    print(
        f"\ncost per request, {n} clients each, {seconds:g} s a window, API: "
        f"{len(srv.pids)} `bankfeeds serve`, {workers} uvicorn worker{'s' if workers > 1 else ''}"
        f" ({len(meter.groups()['api'])} processes measured), "
        f"load average {os.getloadavg()[0]:.2f}\n{HEAD}",
        flush=True,
    )
    results: dict[str, Any] = {}
    for c in costs:
        print(c.row(), flush=True)
        label = f"cost: {c.shape}, {n} clients, {c.client.split(' ')[0]} client"
        results[f"{label}, client-measured (ms)"] = summary(c.latencies)
        results[f"{label}, requests/s"] = summary([c.requests / c.elapsed])
        results[f"{label}, API CPU ÷ PostgreSQL CPU"] = summary([c.ratio])
    for text, ceiling in ceilings.items():
        how = (
            "rows pre-rendered as COPY text" if text else "records encoded by asyncpg in the clock"
        )
        print(f"\nCOPY ceiling, 4 connections, {how}: {ceiling:,.0f} rows/s", flush=True)
        for c in costs:
            if c.shape == "1000-item push":
                ratio = c.requests * 1000 / c.elapsed / ceiling
                print(f"  API/COPY ratio, {c.client}: {ratio:.2f}", flush=True)
                kind = "text" if text else "records"
                results[f"cost: API/COPY ({kind}), {c.client.split(' ')[0]} client"] = summary(
                    [ratio]
                )
    return results


def run(args: Any) -> dict[str, Any]:
    """`python -m bench cost`: the cost section alone, on a fresh schema."""
    workers = getattr(args, "workers", 1)
    with server(workers=workers, extra_env=COST_LIMITS) as srv:
        tenant = make_tenant(srv)
        feeds = connected_feeds(srv, tenant, count=args.cost_clients + 1)
        return section(srv, tenant["apiKey"], feeds[:-1], feeds[-1], args)
