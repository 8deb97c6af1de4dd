"""Tenants set up on the live server (`bankfeeds serve`, the `live_server` fixture) the way a
client does, for the browser tests: over HTTP and the `bankfeeds` command."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from app import clock
from tests.helpers.builders import created_tenant, v1_account, v2_account
from tests.helpers.clients import basic
from tests.helpers.logs import remember_credentials, remember_secret
from tests.helpers.servers import BIN, LiveServer

# A 16 x 16 PNG logo.
LOGO = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAGklEQVR4nGNkaPjPQApgIkn1qIZRDaMa"
    "hpIGAEbAAUz4EqS7AAAAAElFTkSuQmCC"
)


def tenant_with_feed(live: LiveServer) -> tuple[dict[str, Any], str, httpx.Client]:
    """A branded tenant (accent, callout, logo) with a connection of two accounts: the tenant,
    the link URL, and a client with its API key."""
    made = subprocess.run(
        [str(BIN), "tenants", "create", f"Maple Lending {os.urandom(3).hex()}", "--json"],
        env=live.env,
        capture_output=True,
        text=True,
        check=True,
    )
    tenant = created_tenant(made.stdout)
    http = httpx.Client(base_url=live.url, headers=basic(tenant["apiKey"]), timeout=30)
    http.put(
        "/settings/link",
        json={
            "accentColor": "#0b6e4f",
            "callout": {
                "en": {"title": "Questions?", "body": "Call Maple Lending at 1-800-555-0100."},
                "fr": {
                    "title": "Des questions?",
                    "body": "Appelez Maple Lending au 1-800-555-0100.",
                },
            },
        },
    ).raise_for_status()
    http.put(
        "/settings/link/logo", content=LOGO, headers={"Content-Type": "image/png"}
    ).raise_for_status()
    company = http.post("/companies", json={"name": "Toft Stores"}).json()
    connection = http.post(
        f"/companies/{company['id']}/connections", json={"platformKey": "hcws"}
    ).json()
    base = (
        f"/companies/{company['id']}/connections/{connection['id']}/connectionInfo/bankFeedAccounts"
    )
    http.post(
        f"{base}/batch",
        json=[v1_account("chk-1", balance=1234.56), v2_account("sav-2", balance=98765.43)],
    ).raise_for_status()
    return tenant, connection["linkUrl"], http


def bankfeeds(live: LiveServer, *args: str, stdin: str | None = None) -> str:
    """A `bankfeeds` command on the live server's database and Redis: its output."""
    done = subprocess.run(
        [str(BIN), *args], env=live.env, input=stdin, capture_output=True, text=True, check=True
    )
    return done.stdout


def tenant_with_activity(live: LiveServer) -> tuple[str, str, dict[str, Any]]:
    """A tenant whose checking account QuickBooks connected, with sent and pending transactions,
    and a portal user; returns the user's e-mail and password and the company."""
    tenant = created_tenant(
        bankfeeds(live, "tenants", "create", f"Maple Lending {os.urandom(3).hex()}", "--json")
    )
    email, password = f"ops-{secrets.token_hex(3)}@maple.test", secrets.token_urlsafe(16)
    remember_secret(password)
    bankfeeds(
        live, "tenants", "users", "add", tenant["name"], email, "--password-stdin", stdin=password
    )
    with httpx.Client(base_url=live.url, headers=basic(tenant["apiKey"]), timeout=30) as http:
        hook = http.post("/webhooks/endpoints", json={"url": "https://example.test/hook"})
        remember_secret(hook.json()["secret"])
        company = http.post("/companies", json={"name": "Toft Stores"}).json()
        connection = http.post(
            f"/companies/{company['id']}/connections", json={"platformKey": "hcws"}
        ).json()
        base = f"/companies/{company['id']}/connections/{connection['id']}"
        http.post(
            f"{base}/connectionInfo/bankFeedAccounts/batch",
            json=[v1_account("chk-1"), v2_account("sav-2")],
        ).raise_for_status()
        creds = http.post(f"{base}/connectionInfo/bankFeedAccounts/credentials").json()
        remember_credentials(creds["username"], creds["password"])
        pair = base64.b64encode(f"{creds['username']}:{creds['password']}".encode()).decode()
        partner = base64.b64encode(tenant["partnerKeys"]["production"].encode()).decode()
        idx = {"Authorization": f"Basic {pair}", "X-Partner-Key": partner}
        today = clock.now().astimezone(ZoneInfo("America/Toronto")).date()
        listed = httpx.get(f"{live.url}/partners/intuit/idx/accounts", headers=idx).json()
        checking = next(
            a["id"]
            for a in listed["results"]
            if a["accountDisplayInfo"]["description"] == "Business Checking"
        )
        httpx.get(
            f"{live.url}/partners/intuit/idx/accounts/{checking}/transactions",
            params={"startDate": (today - timedelta(days=2)).isoformat()},
            headers=idx,
        ).raise_for_status()
        push = f"{base}/push/bankAccounts/chk-1/bankTransactions"

        def items(prefix: str, on: date, n: int) -> list[dict[str, Any]]:
            return [
                {
                    "id": f"{prefix}{i}",
                    "date": on.isoformat(),
                    "description": f"Card {i}",
                    "amount": f"-{i + 1}.25",
                }
                for i in range(n)
            ]

        # Running balances with a break at a2 (93.25 expected): a balance-certificate gap.
        balances = ("98.75", "96.50", "92.00")
        first = [
            {**item, "balance": b}
            for item, b in zip(items("a", today - timedelta(1), 3), balances, strict=True)
        ]
        http.post(push, json={"accountId": "chk-1", "transactions": first}).raise_for_status()
        bankfeeds(live, "jobs", "run", "daily-send")
        # Still pending; QuickBooks is told money out by the sign, so "Credit" draws a warning.
        later = [{**item, "transactionType": "Credit"} for item in items("b", today, 2)]
        http.post(push, json={"accountId": "chk-1", "transactions": later}).raise_for_status()
        future = items("z", today + timedelta(days=1), 1)  # breaks a rule: a rejected push
        assert http.post(push, json={"accountId": "chk-1", "transactions": future}).is_error
    return email, password, company
