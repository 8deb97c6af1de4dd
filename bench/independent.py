"""A second client, independent of bench's own: the standard library's `http.client` with
keep-alive, one connection in each of N separate processes (multiprocessing, spawned: nothing
of the bench process is inherited), each building its own requests with its own code and
checking every answer's status.

The processes get ready (requests built, connection open, one request answered), then wait;
the caller samples CPU (`bench.cpu`), lets them go, and samples again once every one has
reported, before any of them exits. Their own CPU over that window is read from `/proc` like
the server's. This module imports only the standard library at the top, so that a spawned
process starts lean."""

from __future__ import annotations

import base64
import http.client
import json
import multiprocessing
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Job:
    """What one client process sends, round robin until its time is up: pushes of `items`
    transactions to `path` (built in the process, ids from `prefix`), or GETs of `paths`."""

    url: str
    headers: dict[str, str]
    seconds: float
    path: str = ""
    account_id: str = ""
    items: int = 0
    prefix: str = ""
    on: str = ""  # the transactions' date, ISO
    paths: tuple[str, ...] = ()


def push_bodies(job: Job, count: int) -> list[bytes]:
    """`count` push bodies of `job.items` transactions each, every transaction id new."""
    out = []
    for b in range(count):
        txs = []
        for i in range(job.items):
            cents = (b * job.items + i) % 90_000 + 1
            txs.append(
                {
                    "id": f"{job.prefix}-{b}-{i}",
                    "date": job.on,
                    "description": f"Card payment {i}",
                    "amount": -cents / 100,
                    "transactionType": "Debit",
                }
            )
        out.append(json.dumps({"accountId": job.account_id, "transactions": txs}).encode())
    return out


def _client(job: Job, ready: Any, go: Any, results: Any, finish: Any) -> None:
    parts = urlsplit(job.url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=60)
    if job.items:
        # Enough for 40,000 items a second (more than any server here takes), plus the warm-up.
        bodies = push_bodies(job, int(job.seconds * 40_000 / job.items) + 6)
        plan: list[tuple[str, str, bytes | None]] = [("POST", job.path, b) for b in bodies]
    else:
        plan = [("GET", p, None) for p in job.paths]

    def send(method: str, path: str, body: bytes | None) -> None:
        conn.request(method, path, body=body, headers=job.headers)
        answer = conn.getresponse()
        data = answer.read()
        if answer.status != 200:
            raise RuntimeError(f"{method} {path}: {answer.status} {data[:300]!r}")

    send(*plan[0])  # connection open, the first request answered
    if job.items:
        plan = plan[1:]
    latencies: list[float] = []
    ready.set()
    go.wait()
    started = time.monotonic()  # CLOCK_MONOTONIC: one clock for every process on the machine
    stop, n = started + job.seconds, 0
    while True:
        now = time.monotonic()
        if now >= stop:
            break
        send(*plan[n % len(plan)])
        latencies.append((time.monotonic() - now) * 1000)
        n += 1
        if job.items and n == len(plan):
            break  # every body sent (not reached at the rates seen here)
    results.put((started, time.monotonic(), latencies))
    finish.wait()
    conn.close()


@dataclass
class Run:
    """What the independent clients measured: requests answered 200 between the first one's
    start and the last one's end, each one's milliseconds, and the window's CPU samples."""

    requests: int
    elapsed: float
    latencies: list[float]
    before: Any
    after: Any
    pids: list[int]


def run(jobs: list[Job], sample: Callable[[list[int]], Any]) -> Run:
    """Run one process per job; `sample(client pids)` is called right before they go and right
    after the last has reported (all still alive)."""
    ctx = multiprocessing.get_context("spawn")
    go, finish = ctx.Event(), ctx.Event()
    results = ctx.Queue()
    readies = [ctx.Event() for _ in jobs]
    procs = [
        ctx.Process(target=_client, args=(job, ready, go, results, finish), daemon=True)
        for job, ready in zip(jobs, readies, strict=True)
    ]
    for p in procs:
        p.start()
    try:
        for p, ready in zip(procs, readies, strict=True):
            while not ready.wait(1):
                if not p.is_alive():
                    raise RuntimeError(f"independent client {p.pid} failed before the clock")
        pids = [p.pid for p in procs if p.pid is not None]
        before = sample(pids)
        go.set()
        got: list[tuple[float, float, list[float]]] = []
        while len(got) < len(procs):
            try:
                got.append(results.get(timeout=1))
            except queue.Empty as empty:
                if any(p.exitcode not in (None, 0) for p in procs):
                    raise RuntimeError(
                        "an independent client failed (its error is above)"
                    ) from empty
        after = sample(pids)
    finally:
        finish.set()
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
    latencies = [ms for _, _, each in got for ms in each]
    elapsed = max(end for _, end, _ in got) - min(start for start, _, _ in got)
    return Run(len(latencies), elapsed, latencies, before, after, pids)


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(key.encode()).decode()}
