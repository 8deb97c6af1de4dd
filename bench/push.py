"""Push latency (sequential 1000-item pushes) and ingest throughput (N concurrent clients)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from bench.harness import (
    BENCH_LIMITS,
    FeedRef,
    basic,
    connected_feeds,
    make_tenant,
    push_body,
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


async def ingest(url: str, key: str, feeds: list[FeedRef], seconds: float, tag: str) -> float:
    """Accepted transactions per second with one client per feed pushing 1000-item pushes.

    Bodies are encoded before the clock starts, and the clients are load.py's few lines of
    HTTP/1.1 (as `small_pushes`): httpx on the same two cores spent CPU the server then lacked
    (sessions 2-5 measured with it). The client's own CPU is printed as a self-check, like the
    COPY ceiling's."""
    from bench.load import Pool

    today = toronto_today()
    per_client = int(seconds * 60) + 5
    bodies = {
        n: [push_body(f.account_id, f"{tag}-{n}-{i}", 1000, today) for i in range(per_client)]
        for n, f in enumerate(feeds)
    }
    headers = {**basic(key), **HEADERS}
    accepted = 0

    async def client(feed: FeedRef, n: int, stop: float) -> None:
        nonlocal accepted
        pool = Pool(url)
        try:
            for body in bodies[n]:
                if time.perf_counter() >= stop:
                    break
                r = await pool.request("POST", feed.push_path, headers, body)
                assert r.status == 200, r.body[:300]
                accepted += 1000
        finally:
            pool.close()

    cpu = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(client(f, n, started + seconds) for n, f in enumerate(feeds)))
    elapsed = time.perf_counter() - started
    used = time.process_time() - cpu
    print(
        f"  ingest self-check: {elapsed:.1f} s on the clock; the {len(feeds)} clients used "
        f"{used:.1f} s of CPU ({100 * used / elapsed:.0f} % of a core)",
        flush=True,
    )
    return accepted / elapsed


async def small_pushes(
    url: str, key: str, feeds: list[FeedRef], seconds: float, tag: str, items: int = 100
) -> tuple[float, list[float]]:
    """Pushes per second of `items`-item pushes, one client per feed, back to back: the common
    shape of a push (an account's day). The client is load.py's few lines of HTTP/1.1 (a
    general-purpose client would spend more CPU than the server on this 2-core machine); bodies
    are encoded before the clock starts. Returns (pushes/s, client-measured ms of each)."""
    from bench.load import Pool

    today = toronto_today()
    per_client = int(seconds * 400) + 5
    bodies = {
        n: [push_body(f.account_id, f"{tag}-{n}-{i}", items, today) for i in range(per_client)]
        for n, f in enumerate(feeds)
    }
    headers = {**basic(key), **HEADERS}
    done = 0
    latencies: list[float] = []

    async def client(feed: FeedRef, n: int, stop: float) -> None:
        nonlocal done
        pool = Pool(url)
        try:
            for body in bodies[n]:
                if time.perf_counter() >= stop:
                    break
                t0 = time.perf_counter()
                r = await pool.request("POST", feed.push_path, headers, body)
                latencies.append((time.perf_counter() - t0) * 1000)
                assert r.status == 200, r.body[:300]
                done += 1
        finally:
            pool.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(f, n, started + seconds) for n, f in enumerate(feeds)))
    return done / (time.perf_counter() - started), latencies


def run(args: Any) -> dict[str, Any]:
    results: dict[str, Any] = {}
    # One tenant drives up to 16 clients at once: above the default concurrency cap (10), so the
    # cap is raised here; every request still pays the limiter's Redis round trip.
    workers, processes = getattr(args, "workers", 1), getattr(args, "processes", 1)
    with server(workers=workers, extra_env=BENCH_LIMITS, processes=processes) as srv:
        tenant = make_tenant(srv)
        feeds = connected_feeds(srv, tenant, count=max(4, max(args.clients)) + 2)
        key = tenant["apiKey"]
        big_server: list[float] = []
        big = asyncio.run(latency(srv.url, key, feeds[0], 1000, args.runs, 10.0, big_server))
        results["push 1000 items @10/s, client-observed (ms)"] = summary(big)
        results["push 1000 items @10/s, server time (ms)"] = summary(big_server)
        small_server: list[float] = []
        small = asyncio.run(latency(srv.url, key, feeds[1], 1, args.runs * 10, 100.0, small_server))
        results["push 1 item @100/s, client-observed (ms)"] = summary(small)
        results["push 1 item @100/s, server time (ms)"] = summary(small_server)
        for items, runs, rate in ((1, args.runs * 10, 100.0), (1000, args.runs, 10.0)):
            got, server_side = asyncio.run(
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
                rates.append(asyncio.run(ingest(srv.url, key, chosen, args.seconds, tag)))
            results[f"ingest {clients} clients (tx/s)"] = summary(rates)
        small_rates, small_latencies = [], []
        for rep in range(args.repeats):
            rate, got = asyncio.run(
                small_pushes(srv.url, key, feeds[2:6], args.seconds, f"small{rep}")
            )
            small_rates.append(rate)
            small_latencies += got
        procs = (
            f"{processes} processes behind one port"
            if processes > 1
            else "one process"
            if workers == 1
            else f"{workers} workers"
        )
        results[f"pushes of 100 items, 4 clients, {procs} (pushes/s)"] = summary(small_rates)
        results["pushes of 100 items, 4 clients, client-measured (ms)"] = summary(small_latencies)
    return results
