"""Push latency (sequential 1000-item pushes) and ingest throughput (N concurrent clients)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from bench.drive import HEADERS, drive, ingest
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
