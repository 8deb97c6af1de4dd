"""Push latency (sequential 1000-item pushes) and ingest throughput (N concurrent clients)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from bench.harness import (
    FeedRef,
    basic,
    connected_feeds,
    make_tenant,
    push_body,
    run_client,
    server,
    summary,
    toronto_today,
)

HEADERS = {"Content-Type": "application/json"}


async def latency(
    url: str,
    key: str,
    feed: FeedRef,
    items: int,
    runs: int,
    rate: float | None,
    server_ms: list[float] | None = None,
) -> list[float]:
    """Sequential pushes of `items` transactions (at `rate` per second if given); client-observed
    milliseconds, and the server's own (Server-Timing) into `server_ms`."""
    today = toronto_today()
    bodies = [push_body(feed.account_id, f"lat{items}-{r}", items, today) for r in range(runs)]
    samples = []
    async with httpx.AsyncClient(
        base_url=url, headers={**basic(key), **HEADERS}, timeout=60
    ) as http:
        await http.post(
            feed.push_path, content=push_body(feed.account_id, f"warm{items}", items, today)
        )
        interval = 1 / rate if rate else 0.0
        for body in bodies:
            started = time.perf_counter()
            r = await http.post(feed.push_path, content=body)
            elapsed = time.perf_counter() - started
            assert r.status_code == 200, r.text[:300]
            samples.append(elapsed * 1000)
            if server_ms is not None:
                server_ms.append(float(r.headers["server-timing"].split("dur=")[1]))
            if interval > elapsed:
                await asyncio.sleep(interval - elapsed)
    return samples


async def latency_minimal(
    url: str, key: str, feed: FeedRef, items: int, runs: int, rate: float
) -> tuple[list[float], list[float]]:
    """`latency` through load.py's few lines of HTTP/1.1 instead of httpx: the client's own
    Python (about 1-2 ms a request for httpx on this machine) out of the figure, the HTTP
    exchange, the server and the database in it. Returns (client ms, Server-Timing ms)."""
    from bench.load import Pool

    today = toronto_today()
    bodies = [push_body(feed.account_id, f"min{items}-{r}", items, today) for r in range(runs)]
    headers = {**basic(key), **HEADERS}
    pool = Pool(url)
    client, server_ms = [], []
    try:
        warm = push_body(feed.account_id, f"minwarm{items}", items, today)
        await pool.request("POST", feed.push_path, headers, warm)
        for body in bodies:
            started = time.perf_counter()
            r = await pool.request("POST", feed.push_path, headers, body)
            elapsed = time.perf_counter() - started
            assert r.status == 200, r.body[:300]
            client.append(elapsed * 1000)
            server_ms.append(float(r.headers["server-timing"].split("dur=")[1]))
            if 1 / rate > elapsed:
                await asyncio.sleep(1 / rate - elapsed)
    finally:
        pool.close()
    return client, server_ms


@dataclass
class Drive:
    """What `drive` measured: requests answered 200 in `elapsed` seconds on its clock, each one's
    client-measured milliseconds, the clients' own CPU seconds over the same clock, and what
    `probe` returned right before and right after that clock (`bench.cpu` samples)."""

    pushes: int
    items: int
    elapsed: float
    latencies: list[float]
    client_cpu: float
    marks: tuple[Any, Any] | None = None

    @property
    def per_second(self) -> float:
        return self.pushes / self.elapsed

    def self_check(self, what: str) -> str:
        return (
            f"  {what} self-check: {self.elapsed:.1f} s on the clock; the clients used "
            f"{self.client_cpu:.1f} s of CPU ({100 * self.client_cpu / self.elapsed:.0f} % of a "
            f"core, {1000 * self.client_cpu / max(self.pushes, 1):.2f} ms a push)"
        )


Plan = list[tuple[str, str, bytes]]  # one client's requests: (method, path, body)


async def drive_requests(
    url: str,
    headers: dict[str, str],
    plans: list[Plan],
    seconds: float,
    items: int = 0,
    probe: Callable[[], Any] | None = None,
) -> Drive:
    """One client per plan sending its requests back to back for `seconds`: a plan of pushes is
    sent once at most (every body new), one of GETs round robin. Each must answer 200.

    The clients are load.py's few lines of HTTP/1.1 on uvloop (`bench.harness.run`): on this
    2-core machine a general-purpose client spends CPU the server then lacks (sessions 2-5
    measured with httpx). Their own CPU over the clock is returned as a self-check; `probe`
    (if given) runs right before the clock starts and right after it stops."""
    from bench.load import Pool

    latencies: list[float] = []

    async def client(plan: Plan, stop: float) -> None:
        pool = Pool(url)
        cycle = all(method == "GET" for method, _, _ in plan)
        try:
            n = 0
            while time.perf_counter() < stop and (cycle or n < len(plan)):
                method, path, body = plan[n % len(plan)]
                t0 = time.perf_counter()
                r = await pool.request(method, path, headers, body)
                latencies.append((time.perf_counter() - t0) * 1000)
                assert r.status == 200, r.body[:300]
                n += 1
        finally:
            pool.close()

    before = probe() if probe else None
    cpu = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(client(plan, started + seconds) for plan in plans))
    elapsed = time.perf_counter() - started
    client_cpu = time.process_time() - cpu
    marks = (before, probe()) if probe else None
    return Drive(len(latencies), items, elapsed, latencies, client_cpu, marks)


async def drive(
    url: str,
    key: str,
    feeds: list[FeedRef],
    seconds: float,
    tag: str,
    items: int,
    probe: Callable[[], Any] | None = None,
) -> Drive:
    """One client per feed pushing `items`-item pushes back to back for `seconds`; bodies are
    encoded before the clock starts (`drive_requests`)."""
    today = toronto_today()
    per_client = int(seconds * 40_000 / items) + 5  # 40k items/s a client: above any server
    plans = [
        [
            ("POST", f.push_path, push_body(f.account_id, f"{tag}-{n}-{i}", items, today))
            for i in range(per_client)
        ]
        for n, f in enumerate(feeds)
    ]
    return await drive_requests(url, {**basic(key), **HEADERS}, plans, seconds, items, probe)


async def ingest(url: str, key: str, feeds: list[FeedRef], seconds: float, tag: str) -> float:
    """Accepted transactions per second with one client per feed pushing 1000-item pushes."""
    got = await drive(url, key, feeds, seconds, tag, 1000)
    print(got.self_check("ingest"), flush=True)
    return got.pushes * 1000 / got.elapsed


async def small_pushes(
    url: str, key: str, feeds: list[FeedRef], seconds: float, tag: str, items: int = 100
) -> tuple[float, list[float]]:
    """Pushes per second of `items`-item pushes, one client per feed, back to back: the common
    shape of a push (an account's day). Returns (pushes/s, client-measured ms of each)."""
    got = await drive(url, key, feeds, seconds, tag, items)
    print(got.self_check(f"{items}-item pushes"), flush=True)
    return got.per_second, got.latencies


def run(args: Any) -> dict[str, Any]:
    from bench import cost

    results: dict[str, Any] = {}
    # One tenant drives up to 16 clients at once: above the default concurrency cap (10), so the
    # cap is raised here; every request still pays the limiter's Redis round trip.
    workers, processes = getattr(args, "workers", 1), getattr(args, "processes", 1)
    with server(workers=workers, extra_env=cost.COST_LIMITS, processes=processes) as srv:
        tenant = make_tenant(srv)
        cost_clients = getattr(args, "cost_clients", 4)
        feeds = connected_feeds(srv, tenant, count=max(4, max(args.clients), cost_clients) + 3)
        key = tenant["apiKey"]
        big_server: list[float] = []
        big = run_client(latency(srv.url, key, feeds[0], 1000, args.runs, 10.0, big_server))
        results["push 1000 items @10/s, client-observed (ms)"] = summary(big)
        results["push 1000 items @10/s, server time (ms)"] = summary(big_server)
        small_server: list[float] = []
        small = run_client(latency(srv.url, key, feeds[1], 1, args.runs * 10, 100.0, small_server))
        results["push 1 item @100/s, client-observed (ms)"] = summary(small)
        results["push 1 item @100/s, server time (ms)"] = summary(small_server)
        for items, runs, rate in ((1, args.runs * 10, 100.0), (1000, args.runs, 10.0)):
            got, server_side = run_client(
                latency_minimal(srv.url, key, feeds[0 if items > 1 else 1], items, runs, rate)
            )
            label = f"push {items} item{'s' if items > 1 else ''} @{rate:.0f}/s"
            results[f"{label}, minimal HTTP client (ms)"] = summary(got)
            results[f"{label}, minimal client's server time (ms)"] = summary(server_side)
        for clients in args.clients:
            rates = []
            for rep in range(args.repeats):
                chosen = feeds[2 : 2 + clients]
                tag = f"ing{clients}x{rep}"
                rates.append(run_client(ingest(srv.url, key, chosen, args.seconds, tag)))
            results[f"ingest {clients} clients (tx/s)"] = summary(rates)
        procs = (
            f"{processes} processes behind one port"
            if processes > 1
            else "one process"
            if workers == 1
            else f"{workers} workers"
        )
        for clients in args.clients:
            small_rates, small_latencies = [], []
            for rep in range(args.repeats):
                rate, got = run_client(
                    small_pushes(
                        srv.url, key, feeds[2 : 2 + clients], args.seconds, f"s{clients}x{rep}"
                    )
                )
                small_rates.append(rate)
                small_latencies += got
            label = f"pushes of 100 items, {clients} client{'s' if clients > 1 else ''}"
            results[f"{label}, {procs} (pushes/s)"] = summary(small_rates)
            results[f"{label}, client-measured (ms)"] = summary(small_latencies)
        # Last, as `bench cost` measures it alone: CPU per request of every part, two clients.
        results.update(cost.section(srv, key, feeds[2 : 2 + cost_clients], feeds[-1], args))
    return results
