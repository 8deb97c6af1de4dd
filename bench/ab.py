"""A/B of the API's CPU per request: two `bankfeeds serve` processes, one running the code of a
git revision (`--base`, default HEAD) and one this working tree, on the same database schema,
Redis and machine, driven in turn (interleaved, the order swapped every round) with the same
pushes by bench's own client. Each window's CPU comes from `/proc` (`bench.cpu`): the API
process's, and its own PostgreSQL backends'. On a loaded machine throughput and latency mean
little, but CPU per request of one process still compares two versions of the code when their
windows alternate (docs/BENCHMARKS.md, session 9)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import cpu
from bench.drive import drive
from bench.harness import (
    BENCH_LIMITS,
    PG,
    REDIS,
    FeedRef,
    Server,
    _wait_ready,
    connected_feeds,
    free_port,
    fresh_schema,
    make_tenant,
    run_client,
    summary,
)

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def source_tree(revision: str) -> Iterator[Path]:
    """The files of `revision` in a temporary directory (`git archive`), removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="bench-ab-") as tmp:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", revision], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        yield Path(tmp)


@contextmanager
def serve(tree: Path, env: dict[str, str]) -> Iterator[Server]:
    """`bankfeeds serve` with `tree` first on the import path (ahead of the editable install)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**env, "PYTHONPATH": str(tree), "BANKFEEDS_PUBLIC_BASE_URL": url}
    code = "import sys; from app.cli import main; sys.argv[0] = 'bankfeeds'; main()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--port", str(port), "--workers", "1"],
        env=env,
        cwd=tree,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_ready(url)
        yield Server(url, env, proc.pid, [proc.pid])
    finally:
        proc.terminate()
        proc.wait(timeout=15)


@dataclass
class Side:
    name: str
    server: Server
    feeds: list[FeedRef]
    meter: cpu.Meter
    api_ms: dict[int, list[float]] = field(default_factory=dict)
    pg_ms: dict[int, list[float]] = field(default_factory=dict)
    rate: dict[int, list[float]] = field(default_factory=dict)


def window(side: Side, key: str, items: int, seconds: float, tag: str) -> None:
    """One measured window of `items`-item pushes on `side`; its CPU per push is recorded."""
    own = side.meter.own_backends()

    def probe() -> cpu.Sample:
        return cpu.sample({"api": side.meter.groups()["api"], "postgres": sorted(own)})

    got = run_client(drive(side.server.url, key, side.feeds, seconds, tag, items, probe))
    assert got.marks is not None
    used = cpu.spent(*got.marks)
    side.api_ms.setdefault(items, []).append(1000 * used["api"] / max(got.pushes, 1))
    side.pg_ms.setdefault(items, []).append(1000 * used["postgres"] / max(got.pushes, 1))
    side.rate.setdefault(items, []).append(got.pushes / got.elapsed)


def run(args: Any) -> dict[str, Any]:
    """`python -m bench ab --base REV`: prints each side's API CPU per push (every window and the
    median), its backends' CPU and the ratio, per push shape."""
    shapes: list[int] = args.items
    with ExitStack() as stack:
        base_tree = stack.enter_context(source_tree(args.base))
        schema, env = stack.enter_context(fresh_schema())
        env = {
            **env,
            **BENCH_LIMITS,
            "BANKFEEDS_REDIS_PREFIX": f"{schema}:",
            "BANKFEEDS_DB_POOL_SIZE": "10",
        }
        servers = {
            "A (" + args.base + ")": stack.enter_context(serve(base_tree, env)),
            "B (this tree)": stack.enter_context(serve(ROOT, env)),
        }
        first = next(iter(servers.values()))
        tenant = make_tenant(first)
        key = tenant["apiKey"]
        sides = [
            Side(
                name,
                srv,
                connected_feeds(srv, tenant, count=args.ab_clients),
                cpu.Meter.of([srv.pid], PG, REDIS),
            )
            for name, srv in servers.items()
        ]
        for side in sides:  # warm-up: every pool, every shape
            for items in shapes:
                run_client(
                    drive(side.server.url, key, side.feeds, 0.5, f"w{time.time_ns()}", items)
                )
        for r in range(args.rounds):
            order = sides if r % 2 == 0 else sides[::-1]
            for items in shapes:
                for side in order:
                    window(side, key, items, args.seconds, f"ab{time.time_ns()}")
            print(f"  round {r + 1}/{args.rounds} done, load {os.getloadavg()[0]:.1f}", flush=True)
    print(
        f"\nA/B, {args.ab_clients} clients, {args.seconds:g} s windows, {args.rounds} rounds "
        f"(interleaved); CPU ms per push from /proc, median [every window]\n"
        "| items | side | API CPU ms/push | its PG backends ms/push | API ÷ backends | pushes/s |\n"
        "|---|---|---|---|---|---|"
    )
    results: dict[str, Any] = {}
    for items in shapes:
        for side in sides:
            api, pg = side.api_ms[items], side.pg_ms[items]
            ma, mp = statistics.median(api), statistics.median(pg)
            print(
                f"| {items} | {side.name} | **{ma:.3f}** [{' '.join(f'{v:.2f}' for v in api)}] "
                f"| {mp:.3f} [{' '.join(f'{v:.2f}' for v in pg)}] | {ma / mp if mp else 0:.2f} "
                f"| {statistics.median(side.rate[items]):.0f} |"
            )
            results[f"ab: {items}-item push, {side.name}, API CPU ms/push"] = summary(api)
    return results
