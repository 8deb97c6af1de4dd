"""Start a real `bankfeeds serve` on PostgreSQL and Redis; set up tenants and feeds over HTTP."""

from __future__ import annotations

import base64
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import httpx

BIN = Path(sys.executable).parent / "bankfeeds"
PG = os.environ.get("BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
T = TypeVar("T")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def run_client(main: Coroutine[Any, Any, T]) -> T:
    """asyncio.run on uvloop, as the server runs (uvicorn[standard] brings it): the bench's
    clients share the machine with the server, so their own event loop is kept as lean."""
    import uvloop

    return uvloop.run(main)


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(key.encode()).decode()}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def toronto_today() -> date:
    return datetime.now(ZoneInfo("America/Toronto")).date()


@dataclass
class Server:
    url: str
    env: dict[str, str]
    pid: int
    pids: list[int] = field(default_factory=list)  # every API process (`processes` > 1)


# The ingest benchmarks drive one tenant from up to 16 clients: its concurrency cap is raised
# (and the daily quota with it); the limiter itself still runs on every request.
BENCH_LIMITS = {
    "BANKFEEDS_RATE_LIMIT_CONCURRENCY": "64",
    "BANKFEEDS_RATE_LIMIT_DAILY_QUOTA": "10000000",
}


@contextmanager
def server(
    workers: int = 1, extra_env: dict[str, str] | None = None, processes: int = 1
) -> Iterator[Server]:
    """A fresh PostgreSQL schema, migrated, and one `bankfeeds serve` process on it (uvicorn's
    `--workers` children share its socket). With `processes` > 1: that many separate `bankfeeds
    serve` processes on ports of their own, behind one port of a load balancer (HAProxy in TCP
    mode, round robin, as an L4 balancer in front of two containers would be)."""
    schema = f"bench_{secrets.token_hex(4)}"
    env = {
        **os.environ,
        "DATABASE_URL": PG,
        "REDIS_URL": REDIS,
        "BANKFEEDS_DB_SCHEMA": schema,
        "BANKFEEDS_LOG_LEVEL": "WARNING",
        "BANKFEEDS_REDIS_PREFIX": f"{schema}:",
        "BANKFEEDS_DB_POOL_SIZE": "10",
        **(extra_env or {}),
    }
    subprocess.run([str(BIN), "migrate"], env=env, check=True, capture_output=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env["BANKFEEDS_PUBLIC_BASE_URL"] = url
    own_ports = [port] if processes == 1 else [free_port() for _ in range(processes)]
    procs = [
        subprocess.Popen(
            [str(BIN), "serve", "--port", str(p), "--workers", str(workers)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for p in own_ports
    ]
    if processes > 1:
        procs.append(_balancer(port, own_ports))
    try:
        for p in own_ports:
            _wait_ready(f"http://127.0.0.1:{p}")
        _wait_ready(url)
        yield Server(url, env, procs[0].pid, [proc.pid for proc in procs[:processes]])
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=15)
        _drop(schema)


def _wait_ready(url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"server at {url} did not start")
        time.sleep(0.2)


def _balancer(port: int, backends: list[int]) -> subprocess.Popen[bytes]:
    """HAProxy (Debian's `haproxy` package) on `port`, round robin over `backends`."""
    config = Path(f"/tmp/bench-haproxy-{port}.cfg")
    config.write_text(
        "global\n  maxconn 4096\n"
        "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 60s\n"
        "  timeout server 60s\n"
        f"frontend api\n  bind 127.0.0.1:{port}\n  default_backend apps\n"
        "backend apps\n  balance roundrobin\n"
        + "".join(f"  server app{n} 127.0.0.1:{p}\n" for n, p in enumerate(backends))
    )
    return subprocess.Popen(
        ["haproxy", "-db", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _drop(schema: str) -> None:
    import asyncio

    import asyncpg

    async def drop() -> None:
        dsn = PG.replace("postgresql+asyncpg://", "postgresql://")
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()

    asyncio.run(drop())


@contextmanager
def fresh_schema() -> Iterator[tuple[str, dict[str, str]]]:
    """A new, migrated PostgreSQL schema and the environment that points the CLI at it."""
    schema = f"bench_{secrets.token_hex(4)}"
    env = {
        **os.environ,
        "DATABASE_URL": PG,
        "REDIS_URL": REDIS,
        "BANKFEEDS_DB_SCHEMA": schema,
        "BANKFEEDS_LOG_LEVEL": "WARNING",
    }
    subprocess.run([str(BIN), "migrate"], env=env, check=True, capture_output=True)
    try:
        yield schema, env
    finally:
        _drop(schema)


def make_tenant(srv: Server) -> dict[str, Any]:
    out = subprocess.run(
        [str(BIN), "tenants", "create", f"Bench {secrets.token_hex(3)}", "--json"],
        env=srv.env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


@dataclass
class FeedRef:
    push_path: str
    account_id: str
    connection_path: str
    idx_headers: dict[str, str]
    idx_account_id: str


def connected_feeds(
    srv: Server, tenant: dict[str, Any], count: int, accounts: int = 1
) -> list[FeedRef]:
    """`count` connections, each with `accounts` source accounts connected through the IDX API."""
    feeds = []
    with httpx.Client(base_url=srv.url, headers=basic(tenant["apiKey"]), timeout=60) as http:
        for n in range(count):
            company = http.post("/companies", json={"name": f"Bench SMB {n}"}).json()
            conn = http.post(
                f"/companies/{company['id']}/connections", json={"platformKey": "hcws"}
            ).json()
            link = f"/companies/{company['id']}/connections/{conn['id']}"
            base = f"{link}/connectionInfo/bankFeedAccounts"
            batch = [
                {
                    "id": f"acc-{i}",
                    "accountName": f"Account {i}",
                    "accountType": "checking",
                    "accountNumber": f"{10000000 + i}",
                    "currency": "USD",
                    "balance": 0,
                }
                for i in range(accounts)
            ]
            for start in range(0, accounts, 500):
                http.post(f"{base}/batch", json=batch[start : start + 500]).raise_for_status()
            creds = http.post(f"{base}/credentials").json()
            pair = base64.b64encode(f"{creds['username']}:{creds['password']}".encode()).decode()
            idx = {
                "Authorization": f"Basic {pair}",
                "X-Partner-Key": base64.b64encode(
                    tenant["partnerKeys"]["production"].encode()
                ).decode(),
            }
            listing = http.get(
                "/partners/intuit/idx/accounts", params={"pageSize": 2000}, headers=idx
            ).json()
            by_number = {a["accountNumber"]: a["id"] for a in listing["results"]}
            for i in range(accounts):
                idx_id = by_number[f"{10000000 + i}"]
                http.get(
                    f"/partners/intuit/idx/accounts/{idx_id}/transactions", headers=idx
                ).raise_for_status()
                feeds.append(
                    FeedRef(
                        f"{link}/push/bankAccounts/acc-{i}/bankTransactions",
                        f"acc-{i}",
                        link,
                        idx,
                        idx_id,
                    )
                )
    return feeds


def push_body(account_id: str, prefix: str, n: int, on: date) -> bytes:
    return json.dumps(
        {
            "accountId": account_id,
            "transactions": [
                {
                    "id": f"{prefix}-{i}",
                    "date": on.isoformat(),
                    "description": f"Card payment {i}",
                    # A JSON number, as clients send it (the API parses it as an exact decimal).
                    "amount": -float(f"{(i % 900) + 1}.{i % 100:02d}"),
                    "transactionType": "Debit",
                }
                for i in range(n)
            ],
        }
    ).encode()


def summary(samples_ms: list[float]) -> dict[str, float]:
    """Median, p99 (for a few runs, as with n = 3: the highest), population sd and n."""
    ordered = sorted(samples_ms)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "median": statistics.median(ordered),
        "p99": p99,
        "spread": (statistics.pstdev(ordered) if len(ordered) > 1 else 0.0),
        "n": float(len(ordered)),
    }
