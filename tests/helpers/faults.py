"""For the fault tests: a throwaway PostgreSQL cluster, `bankfeeds serve` processes, a feed
connected over real HTTP, and a load of pushes that records what was acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.helpers import basic, free_port, remember_credentials, remember_secret, v1_account

PG_BINS = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
REQUIRED = bool(os.environ.get("BANKFEEDS_REQUIRE_FAULTS"))


def need(condition: bool, reason: str) -> None:
    """Skip when a tool is missing locally; in CI (BANKFEEDS_REQUIRE_FAULTS=1) fail instead."""
    if condition:
        return
    if REQUIRED:
        pytest.fail(f"{reason} (BANKFEEDS_REQUIRE_FAULTS is set)")
    pytest.skip(reason)


class ThrowawayPostgres:
    """A PostgreSQL cluster of our own, in a temporary directory on a free port, so stopping it
    disturbs no other test run. As root, the server runs as the `postgres` user."""

    def __init__(self) -> None:
        need(bool(PG_BINS), "no PostgreSQL server binaries under /usr/lib/postgresql")
        self.bin = Path(PG_BINS[-1])
        self.root = Path(tempfile.mkdtemp(prefix="bankfeeds-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            shutil.chown(self.root, self.user)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync")

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [str(self.bin / tool), *args], check=True, capture_output=True, user=self.user
        )

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c synchronous_commit=on"
        )
        log = str(self.root / "log")
        self._run("pg_ctl", "-D", str(self.data), "-l", log, "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def push_day() -> str:
    """Yesterday for a Toronto company: valid whichever side of midnight the server is on."""
    return (datetime.now(ZoneInfo("America/Toronto")).date() - timedelta(days=1)).isoformat()


@dataclass
class Feed:
    """A feed connected over HTTP: where the client pushes, and how QuickBooks pulls it."""

    push_path: str
    idx_headers: dict[str, str]
    pull_path: str
    pull_params: dict[str, str]


async def connected_feed(http: httpx.AsyncClient, api_key: str, partner_key: str) -> str:
    """A company, a connection and an account that QuickBooks (IDX) listed and queried, over
    HTTP; returns the account's push path."""
    return (await linked_feed(http, api_key, partner_key)).push_path


async def linked_feed(http: httpx.AsyncClient, api_key: str, partner_key: str) -> Feed:
    """`connected_feed`, with what an IDX pull of its account needs."""
    remember_secret(api_key, partner_key)
    headers = basic(api_key)
    company = (await http.post("/companies", json={"name": "Fault Co"}, headers=headers)).json()
    connection = (
        await http.post(
            f"/companies/{company['id']}/connections",
            json={"platformKey": "hcws"},
            headers=headers,
        )
    ).json()
    base = f"/companies/{company['id']}/connections/{connection['id']}"
    accounts = f"{base}/connectionInfo/bankFeedAccounts"
    r = await http.post(f"{accounts}/batch", json=[v1_account("chk-1")], headers=headers)
    assert r.status_code == 201, r.text
    creds = (await http.post(f"{accounts}/credentials", headers=headers)).json()
    remember_credentials(creds["username"], creds["password"])
    idx = {
        **basic(f"{creds['username']}:{creds['password']}"),
        "X-Partner-Key": basic(partner_key)["Authorization"].removeprefix("Basic "),
    }
    listing = await http.get("/partners/intuit/idx/accounts", headers=idx)
    assert listing.status_code == 200, listing.text
    account = listing.json()["results"][0]["id"]
    start = (datetime.now(ZoneInfo("America/Toronto")).date() - timedelta(days=7)).isoformat()
    pull, params = f"/partners/intuit/idx/accounts/{account}/transactions", {"startDate": start}
    r = await http.get(pull, params=params, headers=idx)
    assert r.status_code == 200, r.text
    return Feed(f"{base}/push/bankAccounts/chk-1/bankTransactions", idx, pull, params)


@dataclass
class Load:
    """Pushers sending one to three transactions per request until told to stop."""

    http: httpx.AsyncClient
    api_key: str
    path: str
    acked: set[str] = field(default_factory=set)
    answers: list[tuple[float, float, int, Any]] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def pusher(self, name: str) -> None:
        n = 0
        while not self.stop.is_set():
            ids = [f"{name}-{n + i}" for i in range(1 + n % 3)]
            n += len(ids)
            body = {
                "accountId": "chk-1",
                "transactions": [
                    {"id": i, "date": push_day(), "description": "Load", "amount": "-1.25"}
                    for i in ids
                ],
            }
            started = time.monotonic()
            try:
                r = await self.http.post(self.path, json=body, headers=basic(self.api_key))
            except httpx.TransportError as exc:
                self.answers.append((started, time.monotonic() - started, 0, repr(exc)))
                await asyncio.sleep(0.05)
                continue
            spent = time.monotonic() - started
            if 200 <= r.status_code < 300:
                self.acked.update(ids)
                self.answers.append((started, spent, r.status_code, None))
            else:
                self.answers.append((started, spent, r.status_code, r.json()))
                await asyncio.sleep(0.05)

    def since(self, moment: float) -> list[tuple[float, float, int, Any]]:
        return [a for a in self.answers if a[0] >= moment]


class ThrowawayRedis:
    """A redis-server of our own on a free TCP port (never the shared 6379), appending every
    write to a file so that queued jobs survive its restart, as a production Redis's would."""

    def __init__(self, root: Path, *, persist: bool = True) -> None:
        from app.embedded_redis import binary

        self.persist = persist
        self.binary = shutil.which("redis-server") or binary()
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        self.process = subprocess.Popen(
            [
                self.binary,
                *("--port", str(self.port), "--bind", "127.0.0.1", "--save", ""),
                *("--appendonly", "yes" if self.persist else "no", "--appendfsync", "always"),
                *("--dir", str(self.root), "--logfile", str(self.root / "redis.log")),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis(port=self.port, socket_connect_timeout=0.5).ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
