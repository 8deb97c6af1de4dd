"""Pendings through the client API, and what QuickBooks' pull shows of them."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import httpx

from app.idx.service import intuit_transaction_id
from app.pendings.jobs import expire_pendings
from tests.helpers.builders import v1_account
from tests.helpers.clients import Linkable
from tests.helpers.feeds import Feed, day


def hold(pid: str, on: str, amount: Any = "-50.00", **kw: Any) -> dict[str, Any]:
    return {
        "id": pid,
        "authorizedDate": on,
        "amount": amount,
        "description": kw.pop("description", f"Hold {pid}"),
        **kw,
    }


def pendings_path(feed: Feed) -> str:
    return f"{feed.link.connection_path}/push/bankAccounts/{feed.account_id}/pendingTransactions"


async def post_holds(
    feed: Feed, items: list[dict[str, Any]], headers: dict[str, str] | None = None
) -> httpx.Response:
    return await feed.api.http.post(
        pendings_path(feed),
        json={"accountId": feed.account_id, "transactions": items},
        headers={**feed.api.headers, **(headers or {})},
    )


async def pending(feed: Feed, pid: str) -> dict[str, Any]:
    r = await feed.api.call("GET", f"{pendings_path(feed)}/{pid}")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def set_matching(feed: Feed, mode: str) -> None:
    r = await feed.api.call("PUT", "/settings/pendingTransactions", {"pendingMatching": mode})
    assert r.status_code == 200, r.text


async def add_card(link: Linkable, account_id: str = "card-1") -> None:
    r = await link.api.call(
        "POST",
        f"{link.accounts_path}/batch",
        [v1_account(account_id, accountName="Business Card", accountType="Credit")],
    )
    assert r.status_code == 201, r.text


async def quickbooks_sees(feed: Feed) -> list[dict[str, Any]]:
    """One pull of everything published so far (its Update sends what waits first)."""
    r = await feed.idx.get(
        f"/accounts/{feed.idx_account_id}/transactions",
        startDate=day(-60),
        endDate=day(2),
        pageSize=5000,
    )
    assert r.status_code == 200, r.text
    return r.json()["results"]  # type: ignore[no-any-return]


def assert_once(
    feed: Feed, seen: list[dict[str, Any]], cleared: list[str], pendings: list[str]
) -> dict[str, dict[str, Any]]:
    """Each cleared id exactly once, and no pending id that is not also a cleared id."""
    pk = uuid.UUID(feed.idx_account_id)
    counts = Counter(t["transactionId"] for t in seen)
    by_id = {}
    for tid in cleared:
        wire_id = intuit_transaction_id(pk, tid)
        assert counts[wire_id] == 1, (tid, counts[wire_id])
        by_id[tid] = next(t for t in seen if t["transactionId"] == wire_id)
    for pid in set(pendings) - set(cleared):
        assert counts[intuit_transaction_id(pk, pid)] == 0, pid
    assert sum(counts.values()) == len(seen)
    return by_id


async def run_expiry(services: Any) -> dict[str, int]:
    """The expiry job as the worker runs it."""
    return await expire_pendings({"settings": services.settings, "sessions": services.sessions})
