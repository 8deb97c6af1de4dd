"""A source account made `connected` the real way: QuickBooks (IDX) lists it and queries it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from app import clock
from tests.helpers.clients import Api, Idx, Linkable

# 11:00 in Toronto (EDT): "today" is 2026-03-10 for the company.
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
TODAY = date(2026, 3, 10)


def day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


def tx(tid: str, on: str, amount: Any = "-10.00", **kw: Any) -> dict[str, Any]:
    return {"id": tid, "date": on, "description": f"Purchase {tid}", "amount": amount, **kw}


@dataclass
class Feed:
    link: Linkable
    idx_account_id: str
    account_id: str = "chk-1"

    @property
    def api(self) -> Api:
        return self.link.api

    @property
    def idx(self) -> Idx:
        return self.link.idx

    @property
    def push_path(self) -> str:
        return f"{self.link.connection_path}/push/bankAccounts/{self.account_id}/bankTransactions"

    @property
    def account_path(self) -> str:
        return f"{self.link.accounts_path}/{self.account_id}"

    async def push(
        self, items: list[Any], *, headers: dict[str, str] | None = None, **params: Any
    ) -> httpx.Response:
        body = {"accountId": self.account_id, "transactions": items}
        return await self.api.http.post(
            self.push_path,
            json=body,
            params=params,
            headers={**self.api.headers, **(headers or {})},
        )

    async def account(self) -> dict[str, Any]:
        listed = (await self.api.call("GET", self.link.accounts_path)).json()
        return next(a for a in listed if a["id"] == self.account_id)

    async def pull(self, start: str | None = None, end: str | None = None) -> httpx.Response:
        params = {k: v for k, v in (("startDate", start), ("endDate", end)) if v}
        return await self.idx.get(f"/accounts/{self.idx_account_id}/transactions", **params)


async def connect(
    link: Linkable,
    *,
    at: datetime = NOW,
    start: str | None = None,
    name_of: str = "Business Checking",
) -> Feed:
    """Connect the account named `name_of` (chk-1 by default) through the IDX API at `at`."""
    clock.freeze(at)
    listing = (await link.idx.get("/accounts", pageSize=2000)).json()["results"]
    account = next(a for a in listing if a["accountDisplayInfo"]["description"] == name_of)
    params = {"startDate": start} if start else {}
    r = await link.idx.get(f"/accounts/{account['id']}/transactions", **params)
    assert r.status_code == 200, r.text
    listed = (await link.api.call("GET", link.accounts_path)).json()
    source_id = next(a["id"] for a in listed if a["accountName"] == name_of)
    return Feed(link, account["id"], source_id)
