"""The README's walkthrough over real HTTP: `bankfeeds serve` in a subprocess, a tenant made
by the CLI, then a company, a connection and two source accounts."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx

from app import instance
from tests.helpers.builders import created_tenant
from tests.helpers.clients import basic
from tests.helpers.servers import BIN, LiveServer, free_port
from tests.helpers.webhooks import MUST_REFUSE


def test_walkthrough_over_real_http(live_server: LiveServer) -> None:
    server, env = live_server.url, live_server.env
    made = subprocess.run(
        [str(BIN), "tenants", "create", "Walkthrough Lending", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    key = created_tenant(made.stdout)["apiKey"]
    with httpx.Client(base_url=server, headers=basic(key)) as http:
        company = http.post("/companies", json={"name": "Toft Stores"}).json()
        connection = http.post(
            f"/companies/{company['id']}/connections", json={"platformKey": "hcws"}
        ).json()
        assert connection["linkUrl"].startswith(f"{server}/companies/{company['id']}/connections/")
        link = f"/companies/{company['id']}/connections/{connection['id']}"
        base = f"{link}/connectionInfo/bankFeedAccounts"
        r = http.post(
            f"{base}/batch",
            json=[
                {
                    "id": "chk-001",
                    "accountName": "Checking",
                    "accountType": "checking",
                    "accountNumber": "12345670",
                    "currency": "USD",
                    "balance": 1520.75,
                },
                {
                    "id": "cc-002",
                    "accountName": "Visa",
                    "accountType": "creditCard",
                    "accountNumber": "4111111111111111",
                    "currency": "USD",
                    "balance": -240.10,
                },
            ],
        )
        assert r.status_code == 201, r.text
        listed = http.get(base).json()
        assert [(a["id"], a["status"]) for a in listed] == [
            ("chk-001", "pending"),
            ("cc-002", "pending"),
        ]
        assert http.get("/openapi.json").status_code == 200
        assert "x-correlation-id" in r.headers


def test_dev_runs_api_and_worker_on_embedded_defaults(tmp_path: Path) -> None:
    """`bankfeeds dev` with nothing configured: SQLite file, embedded Redis, worker, API. Commands
    run later from the same directory find its database, Redis and port with no option at all:
    tenants create, doctor, the sandbox and the whole demo."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env = {k: v for k, v in env.items() if not k.startswith("BANKFEEDS_")}
    env["XDG_STATE_HOME"] = str(tmp_path / "state")  # dev's record of itself stays here
    data = tmp_path / "dev-data"
    proc = subprocess.Popen(
        [str(BIN), "dev", "--port", str(port), "--data-dir", str(data)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def bankfeeds(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN), *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
        )

    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        ready = None
        while time.monotonic() < deadline and ready is None:
            try:
                ready = httpx.get(f"{base}/readyz", timeout=1)
            except httpx.TransportError:
                time.sleep(0.2)
        assert ready is not None and ready.json() == {
            "status": "ok",
            "database": "ok",
            "redis": "ok",
        }
        assert (data / "bankfeeds.db").exists()
        made = bankfeeds("tenants", "create", "Dev Co", "--json")
        assert made.returncode == 0, made.stderr
        assert f"Database: SQLite at {data / 'bankfeeds.db'}" in made.stderr
        key = created_tenant(made.stdout)["apiKey"]
        r = httpx.post(f"{base}/companies", json={"name": "Dev SMB"}, headers=basic(key))
        assert r.status_code == 200, "the tenant is in the database dev serves"
        assert r.json()["redirect"].startswith(base)
        for url in MUST_REFUSE:  # webhooks reach public addresses only, by default
            hook = httpx.post(f"{base}/webhooks/endpoints", json={"url": url}, headers=basic(key))
            assert hook.status_code == 400 and "refused" in hook.json()["error"], (url, hook.text)

        doctor = bankfeeds("doctor")
        assert doctor.returncode == 0, doctor.stdout + doctor.stderr
        assert "ok    Redis reachable" in doctor.stdout
        assert "ok    a worker is running" in doctor.stdout

        qbo = bankfeeds(
            "sandbox",
            "qbo",
            "--username",
            "NOPE-NOPE-NOPE",
            "--password",
            "x" * 16,
            "--partner-key",
            "nope",
            "link",
        )
        assert f"QuickBooks (sandbox) calling {base}" in qbo.stderr
        assert "QuickBooks got 401" in qbo.stderr, "it reached the service on dev's port"

        demo = bankfeeds("demo")
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert '{"ts"' not in demo.stdout + demo.stderr, "no JSON log line in the story"
        for step in (
            "A company",
            "QuickBooks links",
            "daily send",
            "2 new transaction(s)",
            "Catering deposit",
            "QuickBooks got 401",
        ):
            assert step in demo.stdout, (step, demo.stdout)
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=15)
    assert "Bank Feeds Connector on" in output
    assert "tenants create" in output
    assert "Starting worker" in output, "the arq worker runs inside dev"
    assert proc.returncode == 0, output
    assert instance.read(tmp_path / instance.MARKER) == instance.Instance(data.resolve()), (
        "after dev stops, the marker keeps only the data dir"
    )
