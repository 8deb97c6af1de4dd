"""Sustained load: 200 requests/s for 60 s against one API process, every answer checked.

An open-loop schedule (a request starts every 1/rate s whether or not earlier ones have
answered, so a slow server cannot slow the load down and hide its own latency) of what client
apps do all day: pushes of a few transactions, reads of push operations, account lists and push
histories, spread over 4 tenants with 5 connected feeds each (each tenant well inside its rate
limits). Every answer's status and body are checked; p99 is over every request of the run.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

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
# Share of each kind of request in the mix.
MIX = (
    ("push 3 items", 0.4),
    ("get push operation", 0.3),
    ("list accounts", 0.2),
    ("list pushes", 0.1),
)


@dataclass
class Client:
    key: str
    feeds: list[FeedRef]
    pushed: list[tuple[str, str]] = field(default_factory=list)  # (connection path, op key)


@dataclass
class Tally:
    samples: dict[str, list[float]] = field(default_factory=dict)
    server_ms: list[float] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)

    def add(self, kind: str, ms: float, r: httpx.Response) -> None:
        self.samples.setdefault(kind, []).append(ms)
        timing = r.headers.get("server-timing", "")
        if "dur=" in timing:
            self.server_ms.append(float(timing.split("dur=")[1]))


async def one(
    http: httpx.AsyncClient, client: Client, kind: str, n: int, rng: random.Random, tally: Tally
) -> None:
    feed = rng.choice(client.feeds)
    headers = basic(client.key)
    company_path = feed.connection_path.split("/connections/")[0]
    if kind == "get push operation" and not client.pushed:
        kind = "push 3 items"
    started = time.perf_counter()
    problem = None
    if kind == "push 3 items":
        body = push_body(feed.account_id, f"load{n}", 3, toronto_today())
        r = await http.post(
            feed.push_path, content=body, headers={**headers, "Content-Type": "application/json"}
        )
        ms = (time.perf_counter() - started) * 1000
        out = r.json() if r.status_code == 200 else None
        if out is None or out["status"] != "Pending" or len(out["changes"]) != 3:
            problem = f"push: {r.status_code} {r.text[:200]}"
        else:
            client.pushed.append((company_path, out["pushOperationKey"]))
    elif kind == "get push operation":
        path, key = rng.choice(client.pushed)
        r = await http.get(f"{path}/push/{key}", headers=headers)
        ms = (time.perf_counter() - started) * 1000
        if r.status_code != 200 or r.json()["pushOperationKey"] != key:
            problem = f"get push: {r.status_code} {r.text[:200]}"
    elif kind == "list accounts":
        r = await http.get(
            f"{feed.connection_path}/connectionInfo/bankFeedAccounts", headers=headers
        )
        ms = (time.perf_counter() - started) * 1000
        if r.status_code != 200 or feed.account_id not in {a["id"] for a in r.json()}:
            problem = f"accounts: {r.status_code} {r.text[:200]}"
    else:
        r = await http.get(f"{company_path}/push", params={"pageSize": 20}, headers=headers)
        ms = (time.perf_counter() - started) * 1000
        if r.status_code != 200 or "results" not in r.json():
            problem = f"pushes: {r.status_code} {r.text[:200]}"
    if "x-rate-limit-remaining" not in r.headers:
        problem = problem or "no X-Rate-Limit-Remaining header"
    tally.add(kind, ms, r)
    if problem:
        tally.wrong.append(problem)


async def drive(url: str, clients: list[Client], rate: float, seconds: float, seed: int) -> Tally:
    rng = random.Random(seed)
    kinds = [k for k, _ in MIX]
    weights = [w for _, w in MIX]
    tally = Tally()
    tasks: list[asyncio.Task[None]] = []
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as http:
        start = time.perf_counter()
        for n in itertools.count():
            due = start + n / rate
            if due - start >= seconds:
                break
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            client = clients[n % len(clients)]
            kind = rng.choices(kinds, weights)[0]
            tasks.append(asyncio.create_task(one(http, client, kind, n, rng, tally)))
        await asyncio.gather(*tasks)
        tally.samples["_elapsed"] = [time.perf_counter() - start]
    return tally


def run(args: Any) -> dict[str, Any]:
    rate, seconds = args.rate, args.seconds if args.seconds != 8.0 else 60.0
    with server(workers=1) as srv:
        clients = []
        for _ in range(TENANTS):
            tenant = make_tenant(srv)
            clients.append(Client(tenant["apiKey"], connected_feeds(srv, tenant, FEEDS_PER_TENANT)))
        asyncio.run(drive(srv.url, clients, rate, 5.0, seed=1))  # warm-up, not counted
        tally = asyncio.run(drive(srv.url, clients, rate, seconds, seed=2))
    elapsed = tally.samples.pop("_elapsed")[0]
    every = [ms for samples in tally.samples.values() for ms in samples]
    results: dict[str, Any] = {
        f"all requests @{rate:.0f}/s for {seconds:.0f} s, client-observed (ms)": summary(every)
    }
    for kind, samples in sorted(tally.samples.items()):
        results[f"{kind} (ms)"] = summary(samples)
    results["server time, all requests (ms)"] = summary(tally.server_ms)
    achieved = len(every) / elapsed
    results["achieved rate (req/s)"] = {
        "median": achieved,
        "p99": achieved,
        "spread": 0.0,
        "n": 1.0,
    }
    wrong = len(tally.wrong)
    results["wrong answers"] = {"median": wrong, "p99": wrong, "spread": 0.0, "n": len(every)}
    if tally.wrong:
        print(json.dumps(tally.wrong[:10], indent=2))
    return results
