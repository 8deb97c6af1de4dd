"""`bankfeeds sandbox qbo`: plays QuickBooks Online against a running service, over real HTTP.

It calls the IDX API exactly as Intuit does (Basic username:password and X-Partner-Key) and
prints what QuickBooks would show. What it has linked is kept in a small state file (no secrets),
so `link`, `pull`, `update` and `stop` can be run one after another like days in QuickBooks.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import httpx

from app import instance
from app.config import Settings
from app.devtools import quickbooks

IDX = "/partners/intuit/idx"
DEFAULT_URL = "http://127.0.0.1:8000"


class Sandbox:
    def __init__(self, url: str, username: str, password: str, partner_key: str, state: Path):
        self.url = url.rstrip("/")
        self.credentials = (username, password, partner_key)
        pair = base64.b64encode(f"{username}:{password}".encode()).decode()
        self.headers = {
            "Authorization": f"Basic {pair}",
            "X-Partner-Key": base64.b64encode(partner_key.encode()).decode(),
        }
        self.state_path = state
        self.state: dict[str, Any] = (
            json.loads(state.read_text()) if state.exists() else {"accounts": {}}
        )

    def save(self) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        self.state_path.write_text(json.dumps(self.state, indent=2))
        self.state_path.chmod(0o600)

    def get(self, path: str, **params: str) -> Any:
        try:
            r = httpx.get(f"{self.url}{IDX}{path}", params=params, headers=self.headers, timeout=30)
        except httpx.HTTPError as exc:
            raise click.ClickException(f"cannot reach {self.url}: {exc}") from exc
        if r.status_code != 200:
            try:
                message = r.json().get("error", r.text)
            except ValueError:
                message = r.text
            hint = (
                f" (retry after {r.headers['retry-after']} s)" if "retry-after" in r.headers else ""
            )
            raise click.ClickException(f"QuickBooks got {r.status_code}: {message}{hint}")
        return r.json()

    def accounts(self) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        page = 1
        while True:
            body = self.get("/accounts", page=str(page), pageSize="500")
            results += body["results"]
            if len(results) >= body["totalResults"] or not body["results"]:
                return results
            page += 1

    def transactions(self, account_id: str, start: str, end: str) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        page = 1
        while True:
            body = self.get(
                f"/accounts/{account_id}/transactions",
                startDate=start,
                endDate=end,
                page=str(page),
                pageSize=str(quickbooks.PAGE_SIZE),
            )
            results += body["results"]
            if len(results) >= body["totalResults"] or not body["results"]:
                return results
            page += 1

    def pull(self, label: str, *, update: bool = False) -> int:
        """One pull of every linked account, as the nightly run does (from the last download)
        or the Update button (the last 90 days). Transactions already booked are not again."""
        linked = self.state["accounts"]
        if not linked:
            click.echo("No linked accounts: run `bankfeeds sandbox qbo link` first.")
            return 0
        shown = 0
        # Pacific dates, as Intuit's servers count them (read Anywhere on Earth by the service).
        today = quickbooks.pacific_today()
        tomorrow = (today + timedelta(days=1)).isoformat()
        back = (today - timedelta(days=quickbooks.UPDATE_DAYS)).isoformat()
        for account_id, info in linked.items():
            rows = self.transactions(account_id, back if update else info["since"], tomorrow)
            fresh = [t for t in rows if t["transactionId"] not in info["seen"]]
            click.echo(f"{label} · {info['name']}: {len(fresh)} new transaction(s)")
            for t in sorted(fresh, key=lambda t: (t["transactionDate"], t["modifiedDate"])):
                sign = "+" if t["transactionValueType"] == "CREDIT" else ""
                amount = f"{sign}{t['amount']['amount']} {t['amount']['currency']}"
                click.echo(
                    f"    {t['transactionDate']}  {t['transactionDescription']:<40} {amount:>18}"
                )
                info["seen"].append(t["transactionId"])
            shown += len(fresh)
            if rows:
                # The day before the latest modifiedDate's: its date starts at noon UTC.
                last = date.fromisoformat(max(t["modifiedDate"] for t in rows)[:10])
                info["since"] = (last - timedelta(days=1)).isoformat()
        self.save()
        return shown


def _state_default(username: str) -> Path:
    return Path(".bankfeeds") / f"sandbox-qbo-{username}.json"


@click.group("sandbox")
def sandbox_group() -> None:
    """Stand-ins for parties we cannot run here."""


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """Each sign-in option is accepted on `qbo` and after its sub-command (`qbo link
    --username U`): the value typed wins over the environment's, wherever it was typed."""
    if value is None or param.name is None:
        return
    typed = ctx.get_parameter_source(param.name) == click.core.ParameterSource.COMMANDLINE
    chosen = ctx.find_root().meta.setdefault("sandbox", {})
    if typed or param.name not in chosen:
        chosen[param.name] = value


def _sign_in_options(command: Any) -> Any:
    """The options that say which service and which credentials (none needed for --help)."""
    for decorate in reversed(
        (
            click.option(
                "--url",
                envvar="BANKFEEDS_SANDBOX_URL",
                help="The running service (env BANKFEEDS_SANDBOX_URL; default: the `bankfeeds "
                f"dev` started from this directory, else {DEFAULT_URL}).",
            ),
            click.option(
                "--username",
                envvar="BANKFEEDS_SANDBOX_USERNAME",
                help="One-time credentials' username (env BANKFEEDS_SANDBOX_USERNAME).",
            ),
            click.option(
                "--password",
                envvar="BANKFEEDS_SANDBOX_PASSWORD",
                help="Their password (env BANKFEEDS_SANDBOX_PASSWORD; keeps it out of shell "
                "history).",
            ),
            click.option(
                "--partner-key",
                envvar="BANKFEEDS_SANDBOX_PARTNER_KEY",
                help="The tenant's partner key for the environment (env "
                "BANKFEEDS_SANDBOX_PARTNER_KEY).",
            ),
            click.option(
                "--state",
                type=click.Path(dir_okay=False, path_type=Path),
                help="Where what was linked is remembered (default "
                ".bankfeeds/sandbox-qbo-USER.json).",
            ),
        )
    ):
        command = decorate(command)
    for param in getattr(command, "__click_params__", []):
        if param.name in ("url", "username", "password", "partner_key", "state"):
            param.expose_value = False
            param.callback = _remember
    return command


def _sandbox() -> Sandbox:
    """The QuickBooks stand-in the options describe, built when a sub-command runs."""
    ctx = click.get_current_context()
    chosen = ctx.find_root().meta.get("sandbox", {})
    for name, env in (
        ("username", "BANKFEEDS_SANDBOX_USERNAME"),
        ("password", "BANKFEEDS_SANDBOX_PASSWORD"),
        ("partner_key", "BANKFEEDS_SANDBOX_PARTNER_KEY"),
    ):
        if not chosen.get(name):
            flag = "--" + name.replace("_", "-")
            raise click.UsageError(f"Missing option '{flag}' (or {env}).", ctx)
    url = chosen.get("url")
    if url is None:
        settings = ctx.find_object(Settings)
        dev = instance.serving(settings.data_dir) if settings is not None else None
        dev = dev or instance.running()
        url = dev.url if dev is not None and dev.url else DEFAULT_URL
    click.echo(f"QuickBooks (sandbox) calling {url}", err=True)
    username = chosen["username"]
    state = chosen.get("state") or _state_default(username)
    return Sandbox(url, username, chosen["password"], chosen["partner_key"], state)


@sandbox_group.group("qbo")
@_sign_in_options
def qbo() -> None:
    """Play QuickBooks Online: link accounts, pull, Update, stop pulling. The sign-in options
    are accepted here or after the sub-command."""


@qbo.command()
@click.option(
    "--account",
    "picked",
    multiple=True,
    help="Account to link, by name, number or IDX id (repeat); default: all listed.",
)
@click.option(
    "--start-date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Feed start date chosen in QuickBooks.",
)
@click.option("--days-back", type=int, default=None, help="Start date as days before today.")
@_sign_in_options
def link(picked: tuple[str, ...], start_date: datetime | None, days_back: int | None) -> None:
    """Sign in, list the accounts, pick some, choose a start date and pull once."""
    sandbox = _sandbox()
    listed = sandbox.accounts()
    click.echo("QuickBooks lists these accounts:")
    for a in listed:
        click.echo(
            f"    {a['accountDisplayInfo']['displayName']:<36} {a['accountType']:<11} "
            f"{a['primaryCurrency']}"
        )
    wanted = picked or tuple(a["id"] for a in listed)
    found = {p: _find(listed, p) for p in wanted}
    missing = [p for p, a in found.items() if a is None]
    if missing:
        raise click.ClickException(f"not listed by the service: {', '.join(missing)}")
    start: date = (
        start_date.date()
        if start_date
        else date.today() - timedelta(days=days_back if days_back is not None else 7)
    )
    for account in found.values():
        assert account is not None
        sandbox.state["accounts"][account["id"]] = {
            "name": account["accountDisplayInfo"]["displayName"],
            "since": start.isoformat(),
            "seen": [],
        }
    click.echo(f"Linked {len(wanted)} account(s) with start date {start.isoformat()}.")
    sandbox.pull("First download")


def _find(listed: list[dict[str, Any]], wanted: str) -> dict[str, Any] | None:
    """An account by IDX id, account number, name or display name, as a person picks it."""
    for a in listed:
        names = (a["accountDisplayInfo"].get("description"), a["accountDisplayInfo"]["displayName"])
        if wanted in (a["id"], a["accountNumber"], *names):
            return a
    return None


@qbo.command()
@_sign_in_options
def pull() -> None:
    """The nightly download of every linked account."""
    sandbox = _sandbox()
    sandbox.pull("Nightly download")


@qbo.command()
@_sign_in_options
def update() -> None:
    """The SMB clicks Update: download the last 90 days now (what is booked stays once)."""
    sandbox = _sandbox()
    sandbox.pull("Update", update=True)


@qbo.command()
@click.option("--account", "accounts", multiple=True, help="IDX account id; default: all.")
@_sign_in_options
def stop(accounts: tuple[str, ...]) -> None:
    """The SMB disconnects feeds in QuickBooks: no more pulls (the service notices in 10 days)."""
    sandbox = _sandbox()
    linked = sandbox.state["accounts"]
    for key in accounts or tuple(linked):
        info = linked.pop(key, None)
        if info:
            click.echo(f"Stopped pulling {info['name']}.")
    sandbox.save()


@qbo.command("run")
@click.option("--days", type=int, default=7, show_default=True, help="Simulated days.")
@click.option(
    "--start",
    "start_at",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="First simulated day (UTC; default today).",
)
@_sign_in_options
def run_days(days: int, start_at: datetime | None) -> None:
    """Drive QuickBooks over simulated days, in-process on the configured database: each day
    the daily send, the nightly download at 22:00 Pacific (five hourly retries on failure), and
    the detection runs, all through the settable clock. Needs no running server."""
    import asyncio

    from app.devtools.simulate import simulate

    sandbox = _sandbox()
    # The settings `bankfeeds` read (its --data-dir applied), from click's context.
    settings = click.get_current_context().find_object(Settings)
    first = (start_at or datetime.now(UTC)).date()
    for line in asyncio.run(simulate(sandbox.credentials, first, days, settings)):
        click.echo(line)
