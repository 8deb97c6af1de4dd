"""Sustained load: 200 requests/s for 60 s against one API process, every answer checked.

An open-loop schedule (a request starts every 1/rate s whether or not earlier ones have
answered, so a slow server cannot slow the load down and hide its own latency) of what client
apps do all day: pushes of a few transactions, reads of push operations, account lists and push
histories, spread over 4 tenants with 5 connected feeds each (each tenant well inside its rate
limits). Every answer's status, body and rate-limit headers are checked; p99 is over every
request. The client is a few lines of HTTP/1.1 keep-alive over asyncio streams: on a 2-core
machine a general-purpose client spends more CPU than the server and would measure itself.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from bench.cpu import cpu_seconds
from bench.harness import (
    FeedRef,
    basic,
    connected_feeds,
    make_tenant,
    push_body,
    server,
    summary,
    toronto_today,
)

TENANTS = 4
FEEDS_PER_TENANT = 5
MIX = (
    ("push 3 items", 0.4),
    ("get push operation", 0.3),
    ("list accounts", 0.2),
    ("list pushes", 0.1),
)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Pool:
    """Keep-alive HTTP/1.1 connections to one server, one request at a time on each."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> Answer:
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Length: {len(body)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        message = head.encode() + b"\r\n" + body
        while self.idle:  # a kept-alive connection the server may have closed meanwhile
            conn = self.idle.pop()
            try:
                return await self._exchange(conn, message)
            except (asyncio.IncompleteReadError, ConnectionError):
                conn[1].close()
        return await self._exchange(await asyncio.open_connection(self.host, self.port), message)

    async def _exchange(
        self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], message: bytes
    ) -> Answer:
        reader, writer = conn
        writer.write(message)
        raw = await reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        got = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines[1:] if line)}
        payload = await reader.readexactly(int(got.get("content-length", "0")))
        self.idle.append(conn)
        return Answer(status, got, payload)

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()


@dataclass
class Client:
    key: str
    feeds: list[FeedRef]
    pushed: list[tuple[str, str]] = field(default_factory=list)  # (company path, op key)


@dataclass
class Tally:
    samples: dict[str, list[float]] = field(default_factory=dict)
    server_ms: list[float] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    slow: list[tuple[float, float]] = field(default_factory=list)  # (started at, ms) over 100 ms


def check(kind: str, r: Answer, feed: FeedRef, client: Client, key: str | None) -> str | None:
    """What is wrong with the answer, if anything."""
    if "x-rate-limit-remaining" not in r.headers:
        return f"{kind}: {r.status}, no X-Rate-Limit-Remaining header"
    if r.status != 200:
        return f"{kind}: {r.status} {r.body[:200]!r}"
    out = r.json()
    if kind == "push 3 items":
        if (
            out["status"] != "Pending"
            or feed.connection_path.rsplit("/", 1)[1] != out["dataConnectionKey"]
        ):
            return f"push: {out}"
        client.pushed.append(
            (feed.connection_path.split("/connections/")[0], out["pushOperationKey"])
        )
    elif kind == "get push operation" and out["pushOperationKey"] != key:
        return f"get push: {out}"
    elif kind == "list accounts" and feed.account_id not in {a["id"] for a in out}:
        return f"accounts: {out}"
    elif kind == "list pushes" and "results" not in out:
        return f"pushes: {out}"
    return None


async def one(
    pool: Pool, client: Client, kind: str, tag: str, rng: random.Random, tally: Tally
) -> None:
    feed = rng.choice(client.feeds)
    headers = basic(client.key)
    if kind == "get push operation" and not client.pushed:
        kind = "push 3 items"
    key = None
    started = time.perf_counter()
    if kind == "push 3 items":
        body = push_body(feed.account_id, tag, 3, toronto_today())
        headers["Content-Type"] = "application/json"
        r = await pool.request("POST", feed.push_path, headers, body)
    elif kind == "get push operation":
        company_path, key = rng.choice(client.pushed)
        r = await pool.request("GET", f"{company_path}/push/{key}", headers)
    elif kind == "list accounts":
        r = await pool.request(
            "GET", f"{feed.connection_path}/connectionInfo/bankFeedAccounts", headers
        )
    else:
        company_path = feed.connection_path.split("/connections/")[0]
        r = await pool.request("GET", f"{company_path}/push?pageSize=20", headers)
    spent = (time.perf_counter() - started) * 1000
    tally.samples.setdefault(kind, []).append(spent)
    if spent > 100:
        tally.slow.append((started, spent))
    timing = r.headers.get("server-timing", "")
    if "dur=" in timing:
        tally.server_ms.append(float(timing.split("dur=")[1]))
    problem = check(kind, r, feed, client, key)
    if problem:
        tally.wrong.append(problem)


async def drive(
    url: str, clients: list[Client], rate: float, seconds: float, seed: int
) -> tuple[Tally, float]:
    rng = random.Random(seed)
    kinds, weights = [k for k, _ in MIX], [w for _, w in MIX]
    tally = Tally()
    tasks: list[asyncio.Task[None]] = []
    pool = Pool(url)
    start = time.perf_counter()
    for n in itertools.count():
        due = start + n / rate
        if due - start >= seconds:
            break
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        kind = rng.choices(kinds, weights)[0]
        task = one(pool, clients[n % len(clients)], kind, f"s{seed}n{n}", rng, tally)
        tasks.append(asyncio.create_task(task))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    pool.close()
    return tally, elapsed


def run(args: Any) -> dict[str, Any]:
    rate, seconds = args.rate, args.seconds
    with server(workers=1) as srv:
        clients = []
        for _ in range(TENANTS):
            tenant = make_tenant(srv)
            clients.append(Client(tenant["apiKey"], connected_feeds(srv, tenant, FEEDS_PER_TENANT)))
        asyncio.run(drive(srv.url, clients, rate, 5.0, seed=1))  # warm-up, not counted
        cpu_before = cpu_seconds(srv.pid)
        tally, elapsed = asyncio.run(drive(srv.url, clients, rate, seconds, seed=2))
        cpu = cpu_seconds(srv.pid) - cpu_before
    print(f"load average after the run (1, 5, 15 min): {os.getloadavg()}")
    if tally.slow:
        first = min(t for t, _ in tally.slow)
        seconds_in = sorted({int(t - first) for t, _ in tally.slow})
        print(f"{len(tally.slow)} requests over 100 ms, in {len(seconds_in)} distinct seconds")
    every = [ms for samples in tally.samples.values() for ms in samples]
    results: dict[str, Any] = {
        f"all requests @{rate:.0f}/s for {seconds:.0f} s, client-observed (ms)": summary(every)
    }
    for kind, samples in sorted(tally.samples.items()):
        results[f"{kind} (ms)"] = summary(samples)
    results["server time, all requests (ms)"] = summary(tally.server_ms)
    # One figure each for the whole run (summary of a single value: n = 1, no spread).
    results["achieved rate (req/s)"] = summary([len(every) / elapsed])
    results["server CPU per request (ms)"] = summary([1000 * cpu / max(len(every), 1)])
    results["server CPU busy (% of one core)"] = summary([100 * cpu / elapsed])
    wrong = float(len(tally.wrong))
    results["wrong answers"] = {
        "median": wrong,
        "p99": wrong,
        "spread": 0.0,
        "n": float(len(every)),
    }
    if tally.wrong:
        print(json.dumps(tally.wrong[:10], indent=2, default=str))
    return results
