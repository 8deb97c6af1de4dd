"""Codat's shapes exactly, by default (SPEC §5).

Every answer of the suite's test client is checked against Codat's reference document with
additional properties refused (tests/contracts/codat.py, hooked in tests/conftest.py). These tests
prove the check bites, and walk every source-account answer (single, list, batch results, PATCH)
so each is checked, not skipped; our additions come inline only on the opt-in header.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.contracts import codat
from tests.helpers.builders import v1_account, v2_account
from tests.helpers.clients import Api, Linkable
from tests.helpers.feeds import connect, day, tx

ACCOUNTS = "/companies/c/connections/k/connectionInfo/bankFeedAccounts"


def test_the_check_refuses_an_additional_property() -> None:
    account = {"id": "a", "currency": "USD", "balance": 1, "status": "pending"}
    assert codat.check_answer("POST", ACCOUNTS, 200, json.dumps(account).encode())
    for extra in ({"feedHealth": "healthy"}, {"lastPulledOnUtc": None}):
        with pytest.raises(codat.NonConforming, match="not Codat's shape"):
            codat.check_answer("POST", ACCOUNTS, 200, json.dumps({**account, **extra}).encode())
    company = {"id": "c", "name": "n", "redirect": "r", "created": "2026-01-01T00:00:00Z"}
    with pytest.raises(codat.NonConforming, match="timeZone"):
        codat.check_answer(
            "GET", "/companies/c", 200, json.dumps({**company, "timeZone": "UTC"}).encode()
        )
    # Routes Codat does not define are ours, and not checked here.
    assert not codat.check_answer("GET", f"{ACCOUNTS}/a/feedHealth", 200, b"{}")


async def test_every_source_account_answer_is_codats_shape(api: Api, linkable: Linkable) -> None:
    path = linkable.accounts_path
    checked: list[str] = []

    def strictly(method: str, url: str, r: httpx.Response) -> Any:
        assert codat.check_answer(method, url, r.status_code, r.content), (method, url)
        checked.append(f"{method} {r.status_code}")
        return r.json()

    single = await api.call("POST", path, v1_account("one"))
    strictly("POST", path, single)
    batch = await api.call("POST", f"{path}/batch", [v2_account("two"), v1_account("one")])
    assert batch.status_code == 207
    strictly("POST", f"{path}/batch", batch)
    feed = await connect(linkable)  # pulled: feed health is known, and still not inline
    listed = await api.call("GET", path)
    for answer in strictly("GET", path, listed):
        assert "feedHealth" not in answer and "lastPulledOnUtc" not in answer
    patched = await api.call("PATCH", f"{path}/one", {"accountName": "Renamed"})
    strictly("PATCH", f"{path}/one", patched)
    pushed = await feed.push([tx("s1", day(0))])
    strictly("POST", feed.push_path, pushed)
    assert checked == ["POST 200", "POST 207", "GET 200", "PATCH 200", "POST 200"]

    # The opt-in shows our additions; /feedHealth always has them.
    opted = {**api.headers, "Bankfeeds-Include": "feedHealth"}
    inline = (await api.http.get(path, headers=opted)).json()
    assert next(a for a in inline if a["id"] == "chk-1")["feedHealth"] == "healthy"
    health = (await api.call("GET", f"{linkable.connection_path}/feedHealth")).json()
    assert {a["id"] for a in health["results"]} >= {"chk-1", "one", "two"}
