"""The push drivers every push scenario shares (push, cost, more, scaling, ab): clients that
send pre-encoded requests back to back and say what they measured, their own CPU included."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.harness import FeedRef, basic, push_body, toronto_today

HEADERS = {"Content-Type": "application/json"}


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
