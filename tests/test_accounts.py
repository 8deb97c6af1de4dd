"""Source accounts: v1 and v2 shapes, USD/CAD only, duplicates, batch statuses, PATCH rules."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts.tables import SourceAccount
from app.db import transaction
from tests.contracts.sdk import read
from tests.helpers.builders import v1_account, v2_account
from tests.helpers.clients import Api


async def set_status(
    sessions: async_sessionmaker[AsyncSession], account_id: str, status: str
) -> None:
    async with transaction(sessions) as session:
        await session.execute(
            update(SourceAccount)
            .where(SourceAccount.account_id == account_id)
            .values(status=status)
        )


async def test_create_v1_and_v2_and_list(api: Api) -> None:
    base = await api.accounts_path()
    r = await api.call("POST", base, v1_account("chk-1"))
    assert r.status_code == 200, r.text
    v1 = r.json()
    assert v1 == {
        "id": "chk-1",
        "accountName": "Business Checking",
        "accountType": "Debit",
        "accountNumber": "12345670",
        "sortCode": "021001088",
        "currency": "USD",
        "balance": 1234.56,
        "modifiedDate": v1["modifiedDate"],
        "status": "pending",
        "feedStartDate": None,
    }, "Codat's shape exactly: no extension by default"
    opted = await api.http.get(base, headers={**api.headers, "Bankfeeds-Include": "feedHealth"})
    assert opted.json()[0]["feedHealth"] is None and opted.json()[0]["lastPulledOnUtc"] is None
    r = await api.call("POST", base, v2_account("sav-1"))
    assert r.status_code == 200, r.text
    v2 = r.json()
    assert v2["accountType"] == "savings"
    assert v2["routingInfo"] == {"bankCode": "021001088", "type": "aba"}
    assert v2["accountInfo"]["nickname"] == "Rainy day"
    assert v2["balance"] == 400
    assert v2["status"] == "pending"
    listed = (await api.call("GET", base)).json()
    assert [a["id"] for a in listed] == ["chk-1", "sav-1"]


async def test_exact_decimals_round_trip(api: Api) -> None:
    base = await api.accounts_path()
    body = v1_account("big", balance=9999999999999.99)
    r = await api.call("POST", base, body)
    assert r.status_code == 200, r.text
    assert '"balance":9999999999999.99' in r.text
    r = await api.call("POST", base, v1_account("tiny", balance=0.1))
    assert '"balance":0.1' in r.text


@pytest.mark.parametrize(
    ("body", "item", "fragment"),
    [
        (v1_account(currency="EUR"), "currency", "must be USD or CAD"),
        (v1_account(currency="usd"), "currency", "pattern"),
        (v2_account(currency="GBP"), "currency", "must be USD or CAD"),
        ({"id": "x"}, "currency", "Field required"),
        ({"currency": "USD"}, "id", "Field required"),
        (v1_account(id="has space"), "id", "pattern"),
        (v1_account(id="a/b"), "id", "pattern"),
        (v1_account(id="x" * 101), "id", "at most 100"),
        (v1_account(balance=1.234), "balance", "decimal places"),
        (v1_account(balance="lots"), "balance", "decimal"),
        (v1_account(balance=10**14), "balance", "digits"),
        (v1_account(accountName=12), "accountName", "string"),
        (v2_account(accountNumber=None), "accountNumber", "string"),
        ({k: v for k, v in v2_account().items() if k != "balance"}, "balance", "Field required"),
        (v2_account(accountType="creditCard", routingInfo={"type": "nope"}), "routingInfo", "type"),
    ],
)
async def test_invalid_accounts_are_rejected(
    api: Api, body: dict[str, Any], item: str, fragment: str
) -> None:
    base = await api.accounts_path()
    r = await api.call("POST", base, body)
    assert r.status_code == 400, r.text
    errors = r.json()["validation"]["errors"]
    assert any(item in e["itemId"] and fragment in e["message"] for e in errors), errors
    assert (await api.call("GET", base)).json() == []


async def test_duplicate_id_is_409_with_the_specs_message(api: Api) -> None:
    base = await api.accounts_path()
    assert (await api.call("POST", base, v1_account("dup"))).status_code == 200
    r = await api.call("POST", base, v1_account("dup", accountName="Other"))
    assert r.status_code == 409
    assert r.json()["error"] == "A bank account already exists with the same Id"
    listed = (await api.call("GET", base)).json()
    assert [a["accountName"] for a in listed] == ["Business Checking"]


async def test_same_id_in_two_connections_is_fine(api: Api) -> None:
    one, two = await api.accounts_path(), await api.accounts_path()
    assert (await api.call("POST", one, v1_account("same"))).status_code == 200
    assert (await api.call("POST", two, v1_account("same"))).status_code == 200


async def test_batch_201_207_409(api: Api) -> None:
    base = await api.accounts_path()
    r = await api.call("POST", f"{base}/batch", [v1_account("a"), v2_account("b")])
    assert r.status_code == 201, r.text
    assert [(i["sourceAccountId"], i["result"]["statusCode"]) for i in r.json()] == [
        ("a", 200),
        ("b", 200),
    ]
    assert r.json()[1]["result"]["account"]["accountType"] == "savings"

    r = await api.call("POST", f"{base}/batch", [v1_account("a"), v1_account("c"), v1_account("c")])
    assert r.status_code == 207
    results = [(i["sourceAccountId"], i["result"]["statusCode"]) for i in r.json()]
    assert results == [("a", "409"), ("c", 200), ("c", "409")]
    assert r.json()[0]["result"]["error"] == "A bank account already exists with the same Id"

    r = await api.call("POST", f"{base}/batch", [v1_account("a"), v1_account("b")])
    assert r.status_code == 409
    assert all(i["result"]["statusCode"] == "409" for i in r.json())
    assert sorted(a["id"] for a in (await api.call("GET", base)).json()) == ["a", "b", "c"]


async def test_batch_with_an_invalid_item_stores_nothing(api: Api) -> None:
    base = await api.accounts_path()
    r = await api.call(
        "POST", f"{base}/batch", [v1_account("ok"), v1_account("bad", currency="EUR")]
    )
    assert r.status_code == 400
    assert r.json()["validation"]["errors"][0]["itemId"].startswith("1.")
    too_many = [{"id": f"n{i}", "currency": "USD"} for i in range(501)]
    for body in ([], {"id": "x"}, too_many):
        assert (await api.call("POST", f"{base}/batch", body)).status_code == 400
    assert (await api.call("GET", base)).json() == []


async def test_patch_rules(api: Api, sessions: async_sessionmaker[AsyncSession]) -> None:
    base = await api.accounts_path()
    created = (await api.call("POST", base, v1_account("p1"))).json()
    path = f"{base}/p1"

    r = await api.call("PATCH", path, {"accountName": "Operating"})
    assert r.status_code == 200
    assert r.json()["accountName"] == "Operating"

    echoed = {**created, "accountName": "Operating account", "balance": 10}
    r = await api.call("PATCH", path, echoed)
    assert r.status_code == 200, "sending the whole account back with allowed changes works"
    assert r.json()["balance"] == 10

    for body, field in (
        ({"accountNumber": "999"}, "accountNumber"),
        ({"currency": "CAD"}, "currency"),
        ({"accountType": "Credit"}, "accountType"),
        ({"status": "connected"}, "status"),
        ({"id": "other"}, "id"),
        ({"feedStartDate": "2024-01-01"}, "feedStartDate"),
        ({"colour": "red"}, "colour"),
    ):
        r = await api.call("PATCH", path, body)
        assert r.status_code == 400, (body, r.text)
        assert any(field in e["itemId"] for e in r.json()["validation"]["errors"]), r.text

    r = await api.call("PATCH", path, {"accountName": "Never", "accountNumber": "999"})
    assert r.status_code == 400
    assert (await api.call("GET", base)).json()[0]["accountName"] == "Operating account"

    await set_status(sessions, "p1", "connected")
    r = await api.call("PATCH", path, {"balance": 55})
    assert r.status_code == 400
    assert "not connected" in r.text
    r = await api.call("PATCH", path, {"balance": 10, "accountName": "Same balance is fine"})
    assert r.status_code == 200

    r = await api.call("PATCH", path, {"status": "disconnected"})
    assert r.status_code == 200
    assert r.json()["status"] == "disconnected"
    r = await api.call("PATCH", path, {"balance": 77})
    assert r.status_code == 200, "a disconnected account's balance can be set again"


async def test_delete_and_unknown_account(api: Api) -> None:
    base = await api.accounts_path()
    await api.call("POST", base, v1_account("gone"))
    assert (await api.call("DELETE", f"{base}/gone")).status_code == 204
    r = await api.call("DELETE", f"{base}/gone")
    assert r.status_code == 404
    assert r.json()["error"] == "No source account was found with ID gone"
    assert (await api.call("PATCH", f"{base}/gone", {"accountName": "x"})).status_code == 404


async def test_other_tenants_accounts_are_404(api: Api, other_api: Api) -> None:
    base = await api.accounts_path()
    await api.call("POST", base, v1_account("mine"))
    assert (await other_api.call("GET", base)).status_code == 404
    assert (await other_api.call("POST", base, v1_account("theirs"))).status_code == 404
    assert (await other_api.call("POST", f"{base}/batch", [v1_account("t")])).status_code == 404
    assert (await other_api.call("PATCH", f"{base}/mine", {"accountName": "x"})).status_code == 404
    assert (await other_api.call("DELETE", f"{base}/mine")).status_code == 404
    assert [a["id"] for a in (await api.call("GET", base)).json()] == ["mine"]


async def test_concurrent_creates_of_one_id_store_it_once(api: Api) -> None:
    base = await api.accounts_path()
    results = await asyncio.gather(
        *(api.call("POST", base, v1_account("race", accountName=f"n{i}")) for i in range(8))
    )
    assert sorted(r.status_code for r in results) == [200] + [409] * 7
    assert len((await api.call("GET", base)).json()) == 1


async def test_a_list_answers_in_one_shape(api: Api) -> None:
    """v1 while the connection holds only v1 accounts; v2 for all once it holds any v2 one, so
    the official SDK (which reads a list as all-v1 or all-v2) keeps every field."""
    base = await api.accounts_path()
    for body in (v1_account("deb-1"), v1_account("cre-1", accountType="Credit")):
        assert (await api.call("POST", base, body)).status_code == 200
    only_v1 = (await api.call("GET", base)).json()
    read("ListSourceAccountsResponseBody", only_v1)
    assert {a["accountType"] for a in only_v1} == {"Debit", "Credit"}
    assert all("routingInfo" not in a and "accountInfo" not in a for a in only_v1)

    assert (await api.call("POST", base, v2_account("sav-1"))).status_code == 200
    mixed = (await api.call("GET", base)).json()
    parsed = read("ListSourceAccountsResponseBody", mixed)
    assert {type(a).__name__ for a in parsed} == {"SourceAccountV2"}
    by_id = {a["id"]: a for a in mixed}
    assert by_id["deb-1"]["accountType"] == "checking"
    assert by_id["cre-1"]["accountType"] == "creditCard"
    assert by_id["deb-1"]["accountNumber"] == "12345670"
    assert by_id["sav-1"]["accountInfo"]["nickname"] == "Rainy day"
    # Each account alone still answers in the shape it was created in.
    alone = await api.call("PATCH", f"{base}/deb-1", {"accountName": "Ops"})
    assert alone.status_code == 200, alone.text
    assert alone.json()["accountType"] == "Debit"
