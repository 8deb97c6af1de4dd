"""A QuickBooks Online stand-in with Intuit's documented habits, over any httpx client.

- The nightly download starts around 22:00 Pacific; a failed one is retried up to five times
  over the next five hours (hourly), then waits for the next night.
- **Update** (the SMB's button) asks for the last 90 days.
- `startDate` is inclusive and `endDate` exclusive, both on `modifiedDate`; pages of up to 5,000.
  Its dates are Pacific dates (Intuit's servers count days in the Pacific zone); the service
  reads them Anywhere on Earth (docs/IDX.md), so "up to tomorrow" holds everything sent so far.
- One copy per `transactionId`: a transaction served again (an overlapping range, a re-serve)
  is not booked twice.

`bankfeeds sandbox qbo` uses it over HTTP against a running service; the month simulation
(`bankfeeds sandbox qbo run`, `python -m bench soak`) drives it in-process through the
settable clock.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from app import clock

IDX = "/partners/intuit/idx"
PACIFIC = ZoneInfo("America/Los_Angeles")
NIGHTLY_AT = time(22, 0)
RETRIES = 5
RETRY_EVERY = timedelta(hours=1)  # five retries over five hours
UPDATE_DAYS = 90
PAGE_SIZE = 5000


class PullFailed(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"QuickBooks got {status}: {message}")
        self.status = status


@dataclass
class LinkedAccount:
    """One account picked in QuickBooks, and its register (the ledger) there."""

    idx_id: str
    name: str
    since: date
    ledger: dict[str, dict[str, Any]] = field(default_factory=dict)
    received: int = 0  # rows served, repeats included
    pulling: bool = True
    last_success: datetime | None = None


def nightly_after(moment: datetime) -> datetime:
    """The next nightly download time (22:00 Pacific) at or after `moment`."""
    local = moment.astimezone(PACIFIC)
    at = datetime.combine(local.date(), NIGHTLY_AT, PACIFIC)
    if at < local:
        at = datetime.combine(local.date() + timedelta(days=1), NIGHTLY_AT, PACIFIC)
    return at


def pacific_today() -> date:
    """Today as Intuit's servers count it."""
    return clock.now().astimezone(PACIFIC).date()


def retry_times(first: datetime) -> list[datetime]:
    return [first + RETRY_EVERY * (k + 1) for k in range(RETRIES)]


class QuickBooks:
    def __init__(
        self, http: httpx.AsyncClient, username: str, password: str, partner_key: str
    ) -> None:
        self.http = http
        pair = base64.b64encode(f"{username}:{password}".encode()).decode()
        self.headers = {
            "Authorization": f"Basic {pair}",
            "X-Partner-Key": base64.b64encode(partner_key.encode()).decode(),
        }
        self.accounts: dict[str, LinkedAccount] = {}
        self.pulls = 0

    async def _get(self, path: str, params: dict[str, str]) -> Any:
        self.pulls += 1
        try:
            r = await self.http.get(f"{IDX}{path}", params=params, headers=self.headers)
        except httpx.HTTPError as exc:
            raise PullFailed(0, repr(exc)) from exc
        if r.status_code != 200:
            try:
                message = str(r.json().get("error", r.text))
            except ValueError:
                message = r.text
            raise PullFailed(r.status_code, message)
        return r.json()

    async def listed(self) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        page = 1
        while True:
            body = await self._get("/accounts", {"page": str(page), "pageSize": "500"})
            results += body["results"]
            if len(results) >= body["totalResults"] or not body["results"]:
                return results
            page += 1

    async def link(self, picked: list[dict[str, Any]], start: date) -> None:
        """The SMB picks accounts and a start date; QuickBooks downloads at once."""
        for account in picked:
            self.accounts[account["id"]] = LinkedAccount(
                account["id"], account["accountDisplayInfo"]["displayName"], start
            )
        for linked in [self.accounts[a["id"]] for a in picked]:
            await self.download(linked, linked.since)

    async def download(self, account: LinkedAccount, start: date) -> list[dict[str, Any]]:
        """Every page of [start, tomorrow) on modifiedDate; books what is new. Returns it."""
        # Up to tomorrow, a Pacific date (read Anywhere on Earth by the service).
        end = pacific_today() + timedelta(days=1)
        fresh: list[dict[str, Any]] = []
        page, seen = 1, 0
        while True:
            body = await self._get(
                f"/accounts/{account.idx_id}/transactions",
                {
                    "startDate": start.isoformat(),
                    "endDate": end.isoformat(),
                    "page": str(page),
                    "pageSize": str(PAGE_SIZE),
                },
            )
            rows = body["results"]
            seen += len(rows)
            account.received += len(rows)
            for row in rows:
                if row["transactionId"] not in account.ledger:
                    account.ledger[row["transactionId"]] = row
                    fresh.append(row)
            if seen >= body["totalResults"] or not rows:
                break
            page += 1
        account.last_success = clock.now()
        # The next night asks from the day of this download (inclusive): overlaps are booked once.
        account.since = pacific_today() - timedelta(days=1)
        return fresh

    async def nightly(self, account: LinkedAccount) -> list[dict[str, Any]]:
        return await self.download(account, account.since)

    async def update(self, account: LinkedAccount) -> list[dict[str, Any]]:
        """The Update button: the last 90 days."""
        return await self.download(account, pacific_today() - timedelta(days=UPDATE_DAYS))
