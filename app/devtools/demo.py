"""`bankfeeds demo`: the whole story against a running instance, one printed step at a time.

tenant → company → connection → accounts → one-time credentials → QuickBooks (the sandbox) links
them → a push with dates relative to today → the daily send → QuickBooks pulls and shows them →
the client revokes the credentials → QuickBooks' next call gets 401. Every call is real HTTP
except the tenant (made in the database, as `tenants create` does) and the daily send (run once,
as `jobs run daily-send` does).
"""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import httpx

from app.devtools.sandbox import Sandbox

MakeTenant = Callable[[str], dict[str, Any]]
DailySend = Callable[[], dict[str, Any]]


class Story:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.step = 0
        self.http = httpx.Client(base_url=self.url, timeout=30)

    def say(self, title: str, *lines: str) -> None:
        self.step += 1
        click.echo(click.style(f"\n{self.step}. {title}", bold=True))
        for line in lines:
            click.echo(f"   {line}")

    def call(self, method: str, path: str, json: Any = None, expect: int = 200) -> Any:
        r = self.http.request(method, path, json=json)
        click.echo(f"   {method} {path} → {r.status_code}")
        if r.status_code != expect:
            hint = (
                " (the service does not know this tenant: it uses another database than this "
                "command; run the demo from the directory `bankfeeds dev` runs in, or pass "
                "--data-dir)"
                if r.status_code == 401
                else ""
            )
            raise click.ClickException(
                f"{method} {path} answered {r.status_code}: {r.text[:500]}{hint}"
            )
        return r.json() if r.content else None


def run(url: str, make_tenant: MakeTenant, daily_send: DailySend) -> None:
    story = Story(url)
    try:
        story.http.get("/healthz").raise_for_status()
    except httpx.HTTPError as exc:
        raise click.ClickException(
            f"no service answers at {story.url} ({exc}): start it with `bankfeeds dev` "
            "(or `python3 tasks.py run`) and run the demo from the same directory, or pass --url"
        ) from exc
    click.echo(f"The whole story against {story.url}")

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    tenant = make_tenant(f"Demo Lending {stamp}")
    api_key = tenant["apiKey"]
    story.http.headers["Authorization"] = "Basic " + base64.b64encode(api_key.encode()).decode()
    story.say(
        "A tenant (your lending app) and its keys",
        f"Tenant {tenant['name']}",
        f"API key (shown once): {api_key}",
    )

    story.say("A company: your SMB customer")
    company = story.call("POST", "/companies", {"name": "Café Dupont"})
    story.say("A QuickBooks bank-feeds connection for it")
    connection = story.call(
        "POST", f"/companies/{company['id']}/connections", {"platformKey": "hcws"}
    )
    click.echo(f"   The SMB would open its Link page: {connection['linkUrl'].split('?')[0]}?otp=…")
    base = f"/companies/{company['id']}/connections/{connection['id']}"
    accounts = f"{base}/connectionInfo/bankFeedAccounts"

    story.say("Two source accounts")
    story.call("POST", f"{accounts}/batch", _ACCOUNTS, expect=201)

    story.say("One-time credentials (what the Link page shows the SMB)")
    credentials = story.call("POST", f"{accounts}/credentials")
    click.echo(f"   username {credentials['username']}, password shown once to the SMB")

    story.say("QuickBooks links the accounts (the sandbox plays Intuit)")
    with tempfile.TemporaryDirectory(prefix="bankfeeds-demo-") as folder:
        qbo = Sandbox(
            story.url,
            credentials["username"],
            credentials["password"],
            tenant["partnerKeys"]["production"],
            Path(folder) / "qbo.json",
        )
        listed = qbo.accounts()
        start = (datetime.now(UTC).date() - timedelta(days=7)).isoformat()
        for account in listed:
            qbo.state["accounts"][account["id"]] = {
                "name": account["accountDisplayInfo"]["displayName"],
                "since": start,
                "seen": [],
            }
        click.echo(f"   linked {len(listed)} account(s), feed start date {start}")
        qbo.pull("First download")
        status = {a["id"]: a["status"] for a in story.call("GET", accounts)}
        click.echo(f"   source accounts now: {status}")

        story.say("You push two transactions (dates relative to today)")
        today = datetime.now(UTC).date()
        pushed = story.call(
            "POST",
            f"{base}/push/bankAccounts/demo-chk/bankTransactions",
            {
                "accountId": "demo-chk",
                "transactions": [
                    _tx("demo-1", today - timedelta(days=2), "Coffee beans", "-42.50"),
                    _tx("demo-2", today - timedelta(days=1), "Catering deposit", "1250.00"),
                ],
            },
        )
        click.echo(f"   push operation {pushed['pushOperationKey']}: {pushed['status']}")

        story.say("The daily send publishes them to the feed (as the worker does at 05:00 UTC)")
        sent = daily_send()
        click.echo("   daily-send: " + ", ".join(f"{k} {v}" for k, v in sent.items()))

        story.say("QuickBooks' nightly download shows them")
        shown = qbo.pull("Nightly download")
        if shown < 2:
            raise click.ClickException(f"QuickBooks showed {shown} transaction(s), expected 2")

        story.say("You revoke the credentials")
        story.call("DELETE", f"{accounts}/credentials", expect=204)

        story.say("QuickBooks' next call is refused")
        try:
            qbo.pull("Update")
        except click.ClickException as refused:
            click.echo(f"   {refused.message}")
            if " 401" not in refused.message:
                raise
        else:
            raise click.ClickException("QuickBooks was not refused after the revoke")
    click.echo("\nThe whole story ran. Explore it: GET /companies with the API key above.")


_ACCOUNTS = [
    {
        "id": "demo-chk",
        "accountName": "Chèques entreprise",
        "accountType": "checking",
        "accountNumber": "12345670",
        "routingInfo": {"bankCode": "021001088", "type": "aba"},
        "currency": "USD",
        "balance": 1520.75,
    },
    {
        "id": "demo-visa",
        "accountName": "Visa",
        "accountType": "creditCard",
        "accountNumber": "4111111111111111",
        "currency": "USD",
        "balance": -240.10,
    },
]


def _tx(tid: str, on: Any, description: str, amount: str) -> dict[str, Any]:
    return {"id": tid, "date": on.isoformat(), "description": description, "amount": amount}
