"""python -m bench [all|push|cost|send|copy|idx|detect|link|load|signin|slowclients|floods|export|
certify] — prints a table of median, p99 and spread over several runs. `all` runs every scenario
in turn (about 12 minutes) and prints one table (`floods`, `export` and `certify` run on their
own). `cost`
(also the last section of `push`) prints CPU per request of every part from /proc, with bench's
client and an independent one (docs/BENCHMARKS.md, session 8)."""

from __future__ import annotations

import argparse
import json
import os
import platform
from typing import Any

from bench import (
    ab,
    certify,
    cost,
    export,
    floods,
    load,
    more,
    push,
    scaling,
    send,
    signin,
    slowclients,
    soak,
)
from bench.harness import PG


def checkpoint() -> None:
    """A PostgreSQL CHECKPOINT, so that one scenario's gigabyte of WAL is not written out while
    the next one measures commit latency (seen: a 1.3 s p99 in the load run right after the
    1,000,000-row scenarios)."""
    import asyncio

    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(PG.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            await conn.execute("CHECKPOINT")
        finally:
            await conn.close()

    asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument(
        "scenario",
        choices=[
            "all",
            "push",
            "cost",
            "send",
            "copy",
            "idx",
            "detect",
            "link",
            "load",
            "signin",
            "slowclients",
            "floods",
            "soak",
            "wal",
            "partition",
            "export",
            "certify",
            "ab",
        ],
        nargs="?",
        default="push",
    )
    parser.add_argument("--runs", type=int, default=40, help="samples per latency figure")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--seconds", type=float, default=8.0, help="per throughput run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per throughput figure")
    parser.add_argument("--accounts", type=int, default=10_000, help="send: accounts")
    parser.add_argument("--per-account", type=int, default=100, help="send: pending per account")
    parser.add_argument("--rows", type=int, default=1_000_000, help="idx: sent rows on the account")
    parser.add_argument("--rate", type=float, default=200.0, help="load: requests per second")
    parser.add_argument(
        "--flood-rate",
        type=float,
        default=65.0,
        help="floods: the attacker's requests a second (0: no cap, 32 at once)",
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--workers", type=int, default=1, help="push: API processes (bankfeeds serve --workers)"
    )
    parser.add_argument(
        "--cost-clients",
        type=int,
        default=4,
        help="push, cost: clients (and independent client processes) of the cost figures",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="push: separate API processes behind one port (HAProxy, round robin)",
    )
    parser.add_argument(
        "--send-workers", type=int, default=1, help="send: worker processes sharing the run"
    )
    parser.add_argument("--days", type=int, default=30, help="soak: simulated days; certify: days")
    parser.add_argument(
        "--redis", default=os.environ.get("REDIS_URL", ""), help="soak: Redis URL (else embedded)"
    )
    parser.add_argument("--base", default="HEAD", help="ab: the git revision of side A")
    parser.add_argument(
        "--items", type=int, nargs="+", default=[1, 100, 1000], help="ab: push sizes"
    )
    parser.add_argument("--rounds", type=int, default=4, help="ab: windows per side and size")
    parser.add_argument("--ab-clients", type=int, default=4, help="ab: clients per side")
    args = parser.parse_args()
    if args.scenario == "soak":  # not a latency table: a month simulated, with its invariants
        soak.run(args)
        return
    runners = {
        "push": push.run,
        "cost": cost.run,
        "send": send.run,
        "copy": more.ingest_vs_copy,
        "idx": more.idx_pull,
        "detect": more.detection,
        "link": more.link_page,
        "load": load.run,
        "signin": signin.run,
        "slowclients": slowclients.run,
        "floods": floods.run,
        "wal": scaling.wal_rates,
        "partition": scaling.partitioning,
        "export": export.run,
        "certify": certify.run,
        "ab": ab.run,
    }
    results: dict[str, Any] = {}
    plan = None
    if not args.json:
        print(
            f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}"
        )
        print("| figure | median | p99 | spread (sd) | n |\n|---|---|---|---|---|", flush=True)
    # The scaling figures (wal, partition), export and certify are run on their own, not by
    # `all`; cost is in push.
    every = [
        name
        for name in runners
        if name not in ("wal", "partition", "cost", "floods", "export", "certify", "ab")
    ]
    for scenario in every if args.scenario == "all" else [args.scenario]:
        # Detection is measured on 100,000 accounts and the load held for 60 s unless told
        # otherwise.
        own = argparse.Namespace(**vars(args))
        if scenario == "detect" and args.accounts == 10_000:
            own.accounts = 100_000
        if scenario == "load" and args.seconds == 8.0:
            own.seconds = 60.0
        if args.scenario == "all":
            checkpoint()  # the previous scenario's writes flushed now, not during this one
        found = runners[scenario](own)
        plan = found.pop("_plan", None) or plan
        results.update(found)
        if not args.json:  # each scenario's rows as soon as it is done
            for name, s in found.items():
                print(
                    f"| {name} | {s['median']:.2f} | {s['p99']:.2f} | {s['spread']:.2f} "
                    f"| {int(s['n'])} |",
                    flush=True,
                )
    if args.json:
        print(json.dumps(results, indent=2))
    elif plan:
        print("\nquery plan:\n" + plan)


if __name__ == "__main__":
    main()
