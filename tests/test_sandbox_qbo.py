"""End to end over real HTTP: a client sets up a company, QuickBooks (the sandbox command, in a
process of its own) links two accounts with a start date 10 days back, then the client revokes."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from tests.helpers.builders import created_tenant, v1_account, v2_account
from tests.helpers.clients import basic
from tests.helpers.servers import BIN, LiveServer


def sandbox(
    live: LiveServer, creds: dict[str, str], partner_key: str, state: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "BANKFEEDS_SANDBOX_URL": live.url,
        "BANKFEEDS_SANDBOX_USERNAME": creds["username"],
        "BANKFEEDS_SANDBOX_PASSWORD": creds["password"],
        "BANKFEEDS_SANDBOX_PARTNER_KEY": partner_key,
    }
    return subprocess.run(
        [str(BIN), "sandbox", "qbo", "--state", str(state), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_sandbox_links_pulls_and_is_cut_off_by_revoke(
    live_server: LiveServer, tmp_path: Path
) -> None:
    made = subprocess.run(
        [str(BIN), "tenants", "create", "Sandbox Lending", "--json"],
        env=live_server.env,
        capture_output=True,
        text=True,
        check=True,
    )
    tenant = created_tenant(made.stdout)
    partner_key = tenant["partnerKeys"]["production"]
    state = tmp_path / "qbo.json"
    with httpx.Client(base_url=live_server.url, headers=basic(tenant["apiKey"])) as http:
        company = http.post("/companies", json={"name": "Toft Stores"}).json()
        connection = http.post(
            f"/companies/{company['id']}/connections", json={"platformKey": "hcws"}
        ).json()
        link = f"/companies/{company['id']}/connections/{connection['id']}"
        base = f"{link}/connectionInfo/bankFeedAccounts"
        accounts = [
            v1_account("chk-1", accountName="Operating"),
            v2_account("sav-2", accountName="Reserve"),
            v1_account("cc-3", accountName="Corporate Card", accountType="Credit"),
        ]
        assert http.post(f"{base}/batch", json=accounts).status_code == 201
        creds = http.post(f"{base}/credentials").json()

        ran = sandbox(
            live_server,
            creds,
            partner_key,
            state,
            "link",
            "--account",
            "Operating",
            "--account",
            "Reserve",
            "--days-back",
            "10",
        )
        assert ran.returncode == 0, ran.stderr
        assert "QuickBooks lists these accounts" in ran.stdout
        assert "Corporate Card ••••5670" in ran.stdout
        assert "Linked 2 account(s)" in ran.stdout
        assert creds["password"] not in state.read_text(), "no secret in the state file"

        now = datetime.now(UTC)
        today = now.astimezone(ZoneInfo("America/Toronto")).date()
        listed: dict[str, Any] = {a["id"]: a for a in http.get(base).json()}
        assert listed["chk-1"]["status"] == "connected"
        assert listed["sav-2"]["status"] == "connected"
        assert listed["cc-3"]["status"] == "connecting", "listed, but not picked in QuickBooks"
        clamp = today - timedelta(days=7)
        # The connection holds a v2 account, so the list answers every account in v2 (a date).
        assert listed["chk-1"]["feedStartDate"] == clamp.isoformat()
        assert listed["sav-2"]["feedStartDate"] == clamp.isoformat()
        assert http.get(link).json()["status"] == "Linked"

        pulled = sandbox(live_server, creds, partner_key, state, "update")
        assert pulled.returncode == 0, pulled.stderr
        assert "Update · Operating ••••5670: 0 new transaction(s)" in pulled.stdout

        assert http.delete(f"{base}/credentials").status_code == 204
        cut = sandbox(live_server, creds, partner_key, state, "pull")
        assert cut.returncode != 0
        assert "QuickBooks got 401" in cut.stderr

        stopped = sandbox(live_server, creds, partner_key, state, "stop")
        assert "Stopped pulling Operating ••••5670" in stopped.stdout
