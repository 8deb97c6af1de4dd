"""python -m bench [push] — prints a table of median, p99 and spread over several runs."""

from __future__ import annotations

import argparse
import json
import os
import platform

from bench import push, send


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("scenario", choices=["push", "send"], nargs="?", default="push")
    parser.add_argument("--runs", type=int, default=40, help="samples per latency figure")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--seconds", type=float, default=8.0, help="per throughput run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per throughput figure")
    parser.add_argument("--accounts", type=int, default=10_000, help="send: accounts")
    parser.add_argument("--per-account", type=int, default=100, help="send: pending per account")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = push.run(args) if args.scenario == "push" else send.run(args)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    print("| figure | median | p99 | spread (sd) | n |\n|---|---|---|---|---|")
    for name, s in results.items():
        print(
            f"| {name} | {s['median']:.1f} | {s['p99']:.1f} | {s['spread']:.1f} | {int(s['n'])} |"
        )


if __name__ == "__main__":
    main()
