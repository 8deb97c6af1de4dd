"""Pushing bank transactions: every QuickBooks rule at its boundaries, operations, options."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import clock
from app.transactions.tables import PushOperation
from tests.contracts.sdk import read
from tests.helpers.builders import v1_account
from tests.helpers.clients import Api, Linkable
from tests.helpers.feeds import NOW, TODAY, Feed, connect, day, tx


@pytest.fixture
async def feed(linkable: Linkable) -> Feed:
    return await connect(linkable)


def rejected(r: Any, *rules_: str) -> list[dict[str, Any]]:
    assert r.status_code == 400, r.text
    errors: list[dict[str, Any]] = r.json()["validation"]["errors"]
    assert {e["validatorName"] for e in errors} == set(rules_), errors
    assert all(e["itemId"] and e["message"] for e in errors)
    return errors


async def test_accepted_push_answers_a_pending_operation(feed: Feed) -> None:
    r = await feed.push(
        [
            tx("a1", day(-1), "-42.10", balance="1000.00", transactionType="Debit"),
            tx("a2", day(0), 250, balance="1250.00"),
        ]
    )
    assert r.status_code == 200, r.text
    body = r.json()
    read("CreateBankTransactionsResponse", body)
    assert body["status"] == "Pending"
    assert body["statusCode"] == 202
    assert body["dataType"] == "bankTransactions"
    assert body["companyId"] == feed.link.company["id"]
    assert body["dataConnectionKey"] == feed.link.connection["id"]
    assert body["requestedOnUtc"] == "2026-03-10T15:00:00Z"
    assert "completedOnUtc" not in body
    assert body["validation"] == {"errors": [], "warnings": []}
    assert body["data"]["accountId"] == "chk-1"
    assert [t["id"] for t in body["data"]["transactions"]] == ["a1", "a2"]
    assert body["data"]["transactions"][0]["amount"] == -42.1
    account = await feed.account()
    assert account["balance"] == 1250, "the last item's balance becomes the account's"

    op = (
        await feed.api.call(
            "GET", f"/companies/{feed.link.company['id']}/push/{body['pushOperationKey']}"
        )
    ).json()
    read("PushOperation", op)
    assert op["status"] == "Pending"

    listed = (
        await feed.api.call("GET", f"{feed.link.accounts_path}/chk-1/bankTransactions")
    ).json()
    assert [(t["id"], t["status"], t["pushOperationKey"]) for t in listed["results"]] == [
        ("a2", "pending", body["pushOperationKey"]),
        ("a1", "pending", body["pushOperationKey"]),
    ]
    assert listed["results"][1]["amount"] == -42.1
    assert listed["results"][1]["date"] == day(-1)


async def test_last_item_without_balance_leaves_the_balance(feed: Feed) -> None:
    before = (await feed.account())["balance"]
    r = await feed.push([tx("b1", day(0), balance="77.00"), tx("b2", day(0))])
    assert r.status_code == 200
    assert (await feed.account())["balance"] == before


# (items, the rules expected to fail); an empty tuple means accepted.
CASES: dict[str, tuple[list[dict[str, Any]], tuple[str, ...]]] = {
    "today": ([tx("t", day(0))], ()),
    "yesterday": ([tx("t", day(-1))], ()),
    "tomorrow": ([tx("t", day(1))], ("NoFutureDates",)),
    "exactly 7 days back": ([tx("t", day(-7))], ()),
    "8 days back": ([tx("t", day(-8))], ("SevenDayBackfill",)),
    "a date-time, offset ignored": ([tx("t", f"{day(0)}T23:59:00-12:00")], ()),
    "date-time tomorrow": ([tx("t", f"{day(1)}T00:00:00")], ("NoFutureDates",)),
    "clearedOnDate alias": ([{**tx("t", day(0)), "date": None, "clearedOnDate": day(0)}], ()),
    "date and clearedOnDate agree": ([tx("t", day(0), clearedOnDate=day(0))], ()),
    "date and clearedOnDate disagree": ([tx("t", day(0), clearedOnDate=day(-1))], ("ClearedOnly",)),
    "no cleared date": ([{"id": "t", "description": "x", "amount": 1}], ("ClearedOnly",)),
    "status pending": ([tx("t", day(0), status="pending")], ("ClearedOnly",)),
    "cleared false": ([tx("t", day(0), cleared=False)], ("ClearedOnly",)),
    "cleared true": ([tx("t", day(0), cleared=True, status="cleared")], ()),
    "not a date": ([tx("t", "2026-02-30")], ("ClearedOnly",)),
    "out of order": ([tx("t1", day(0)), tx("t2", day(-1))], ("Chronological",)),
    "same day twice": ([tx("t1", day(-1)), tx("t2", day(-1))], ()),
    "id twice in one push": ([tx("t", day(-1)), tx("t", day(0))], ("UniqueTransactionId",)),
    "0.001": ([tx("t", day(0), "0.001")], ("Amount",)),
    "1.10 has two places": ([tx("t", day(0), "1.10")], ()),
    "zero": ([tx("t", day(0), 0)], ("Amount",)),
    "huge": ([tx("t", day(0), "10000000000000")], ("Amount",)),
    "largest": ([tx("t", day(0), "9999999999999.99")], ()),
    "negative": ([tx("t", day(0), "-9999.99")], ()),
    "largest negative": ([tx("t", day(0), "-9999999999999.99")], ()),
    "huge negative": ([tx("t", day(0), "-10000000000000")], ("Amount",)),
    "amount as text": ([tx("t", day(0), "lots")], ("Amount",)),
    "missing description": ([{"id": "t", "date": day(0), "amount": 5}], ("RequiredFields",)),
    "blank description": ([tx("t", day(0), description="   ")], ("RequiredFields",)),
    "missing id": ([{"date": day(0), "description": "x", "amount": 5}], ("RequiredFields",)),
    "balance with 3 places": ([tx("t", day(0), balance="1.005")], ("Balance",)),
    "unknown transaction type": (
        [tx("t", day(0), transactionType="Sideways")],
        ("RequiredFields",),
    ),
    "not an object": (["just text"], ("RequiredFields",)),
    "empty": ([], ("TransactionCount",)),
    "several problems at once": (
        [tx("t1", day(1)), tx("t2", day(-9), 0), tx("t3", day(0), status="pending")],
        ("NoFutureDates", "SevenDayBackfill", "Amount", "ClearedOnly", "Chronological"),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_rule_boundaries(feed: Feed, case: str, sessions: Any) -> None:
    items, failing = CASES[case]
    r = await feed.push(items)
    listed = (
        await feed.api.call("GET", f"{feed.link.accounts_path}/chk-1/bankTransactions")
    ).json()
    if not failing:
        assert r.status_code == 200, r.text
        assert listed["totalResults"] == len(items)
    else:
        rejected(r, *failing)
        assert listed["totalResults"] == 0, "a rejected push stores nothing"
        ops = (await feed.api.call("GET", f"/companies/{feed.link.company['id']}/push")).json()
        assert ops["totalResults"] == 0


async def test_every_failing_item_is_listed_by_its_id(feed: Feed) -> None:
    items = [tx(f"x{i}", day(0), "0.001" if i % 3 == 0 else "5") for i in range(9)]
    errors = rejected(await feed.push(items), "Amount")
    assert [e["itemId"] for e in errors] == ["x0", "x3", "x6"]
    assert "more than 2 decimal places" in errors[0]["message"]


async def test_1000_items_pass_and_1001_fail(feed: Feed) -> None:
    many = [tx(f"m{i}", day(0), "1.00") for i in range(1001)]
    rejected(await feed.push(many), "TransactionCount")
    r = await feed.push(many[:1000])
    assert r.status_code == 200, r.text[:500]
    assert r.json()["data"]["transactions"][-1]["id"] == "m999"


async def test_midnight_in_the_company_zone(linkable: Linkable) -> None:
    # 23:30 in Toronto on the 10th (03:30 UTC on the 11th): the 11th is still tomorrow.
    feed = await connect(linkable, at=datetime(2026, 3, 11, 3, 30, tzinfo=UTC))
    rejected(await feed.push([tx("late", "2026-03-11")]), "NoFutureDates")
    assert (await feed.push([tx("late", "2026-03-10")])).status_code == 200
    clock.freeze(datetime(2026, 3, 11, 4, 30, tzinfo=UTC))  # 00:30 on the 11th in Toronto
    assert (await feed.push([tx("early", "2026-03-11")])).status_code == 200


async def test_the_company_zone_overrides_the_tenant_zone(linkable: Linkable) -> None:
    # 15:30 UTC on the 10th: still the 10th in Toronto (the tenant's zone), the 11th in Tokyo.
    at = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)
    company = f"/companies/{linkable.company['id']}"
    feed = await connect(linkable, at=at)
    rejected(await feed.push([tx("east", "2026-03-11")]), "NoFutureDates")
    r = await feed.api.call("PATCH", company, {"timeZone": "Asia/Tokyo"})
    assert r.status_code == 200, r.text
    assert (await feed.push([tx("east", "2026-03-11")])).status_code == 200
    rejected(await feed.push([tx("later", "2026-03-12")]), "NoFutureDates")
    r = await feed.api.call("PATCH", company, {"timeZone": "Pacific/Honolulu"})
    assert r.status_code == 200, r.text
    # 05:30 on the 10th in Honolulu: the 11th is tomorrow there (the 11th already accepted
    # stays; a new item may not be earlier than it, nor dated in Honolulu's future).
    rejected(await feed.push([tx("west", "2026-03-11")]), "NoFutureDates")


async def test_a_client_disconnect_fails_pending_pushes(feed: Feed) -> None:
    key = (await feed.push([tx("d1", day(0))])).json()["pushOperationKey"]
    company = feed.link.company["id"]
    r = await feed.api.call("PATCH", feed.account_path, {"status": "disconnected"})
    assert r.status_code == 200, r.text
    op = (await feed.api.call("GET", f"/companies/{company}/push/{key}")).json()
    assert op["status"] == "Failed" and op["completedOnUtc"], op
    listed = (await feed.api.call("GET", f"{feed.account_path}/bankTransactions")).json()
    assert listed["totalResults"] == 0, "its unsent transactions are withdrawn"
    rejected(await feed.push([tx("d2", day(0))]), "AccountConnected")


async def test_before_the_feed_start_date(linkable: Linkable) -> None:
    feed = await connect(linkable, start=day(-2))
    assert (await feed.account())["feedStartDate"].startswith(day(-2))
    rejected(await feed.push([tx("old", day(-3))]), "SevenDayBackfill")
    assert (await feed.push([tx("ok", day(-2))])).status_code == 200


async def test_backfill_window_moves_with_today(feed: Feed) -> None:
    clock.freeze(NOW + timedelta(days=3))
    errors = rejected(await feed.push([tx("t", day(-5))]), "SevenDayBackfill")
    assert "more than 7 days back" in errors[0]["message"]


async def test_ids_and_order_against_earlier_pushes(feed: Feed) -> None:
    assert (await feed.push([tx("p1", day(-2)), tx("p2", day(-1))])).status_code == 200
    errors = rejected(await feed.push([tx("p2", day(0))]), "UniqueTransactionId")
    assert "earlier push" in errors[0]["message"]
    errors = rejected(await feed.push([tx("p3", day(-2))]), "Chronological")
    assert "latest transaction already accepted" in errors[0]["message"]
    assert (await feed.push([tx("p4", day(-1))])).status_code == 200, "same day as the latest"


async def test_sign_and_type_mismatch_is_a_warning(feed: Feed) -> None:
    r = await feed.push(
        [
            tx("w1", day(0), "15.00", transactionType="Debit"),
            tx("w2", day(0), "-15.00", transactionType="Credit"),
            tx("w3", day(0), "-15.00", transactionType="Debit"),
        ]
    )
    assert r.status_code == 200
    warnings = r.json()["validation"]["warnings"]
    assert [(w["itemId"], w["validatorName"]) for w in warnings] == [
        ("w1", "TransactionTypeSign"),
        ("w2", "TransactionTypeSign"),
    ]


async def test_warnings_ride_along_with_errors(feed: Feed) -> None:
    r = await feed.push([tx("w1", day(0), "15.00", transactionType="Debit"), tx("w2", day(1))])
    rejected(r, "NoFutureDates")
    assert r.json()["validation"]["warnings"][0]["itemId"] == "w1"


async def test_pending_and_disconnected_accounts(api: Api, linkable: Linkable) -> None:
    clock.freeze(NOW)
    path = f"{linkable.connection_path}/push/bankAccounts/sav-2/bankTransactions"
    r = await api.call("POST", path, {"accountId": "sav-2", "transactions": [tx("t", day(0))]})
    errors = rejected(r, "AccountConnected")
    assert "not yet connected in QuickBooks" in errors[0]["message"]

    feed = await connect(linkable)
    r = await feed.api.call("PATCH", feed.account_path, {"status": "disconnected"})
    assert r.status_code == 200
    errors = rejected(await feed.push([tx("t", day(0))]), "AccountConnected")
    assert "disconnected in QuickBooks; writes fail" in errors[0]["message"]


async def test_account_id_must_match_and_others_are_404(feed: Feed, other_api: Api) -> None:
    r = await feed.api.call(
        "POST", feed.push_path, {"accountId": "sav-2", "transactions": [tx("t", day(0))]}
    )
    assert r.status_code == 400
    assert "does not match" in r.json()["error"]
    r = await other_api.call(
        "POST", feed.push_path, {"accountId": "chk-1", "transactions": [tx("t", day(0))]}
    )
    assert r.status_code == 404
    missing = feed.push_path.replace("/chk-1/", "/nope/")
    r = await feed.api.call(
        "POST", missing, {"accountId": "nope", "transactions": [tx("t", day(0))]}
    )
    assert r.status_code == 404
    for body in (
        {"transactions": []},
        {"accountId": "chk-1"},
        [],
        {"accountId": 5, "transactions": []},
    ):
        assert (await feed.api.call("POST", feed.push_path, body)).status_code == 400


async def test_push_operations_list_newest_first_and_scoped(feed: Feed, other_api: Api) -> None:
    keys = []
    for i in range(3):
        clock.shift(timedelta(minutes=1))
        keys.append((await feed.push([tx(f"o{i}", day(0))])).json()["pushOperationKey"])
    base = f"/companies/{feed.link.company['id']}/push"
    page = (await feed.api.call("GET", base, params={"pageSize": 2})).json()
    read("PushOperations", page)
    assert page["totalResults"] == 3
    assert [o["pushOperationKey"] for o in page["results"]] == keys[::-1][:2]
    filtered = (
        await feed.api.call("GET", base, params={"query": f"pushOperationKey={keys[0]}"})
    ).json()
    assert [o["pushOperationKey"] for o in filtered["results"]] == [keys[0]]
    assert (await other_api.call("GET", f"{base}/{keys[0]}")).status_code == 404
    assert (await other_api.call("GET", base)).status_code == 404
    assert (
        await feed.api.call("GET", f"{base}/{'0' * 8}-0000-0000-0000-{'0' * 12}")
    ).status_code == 404


async def test_timeout_withdraws_the_push(feed: Feed) -> None:
    r = await feed.push([tx("slow", day(0))], timeoutInMinutes=30)
    body = r.json()
    assert body["timeoutInMinutes"] == 30
    path = f"/companies/{feed.link.company['id']}/push/{body['pushOperationKey']}"
    clock.shift(timedelta(minutes=29))
    assert (await feed.api.call("GET", path)).json()["status"] == "Pending"
    clock.shift(timedelta(minutes=2))
    op = (await feed.api.call("GET", path)).json()
    assert op["status"] == "TimedOut"
    assert op["completedOnUtc"] == "2026-03-10T15:30:00Z"
    assert "Push them again" in op["errorMessage"]
    assert (await feed.push([tx("slow", day(-1))])).status_code == 200, (
        "the withdrawn id and date are free again"
    )
    assert (await feed.push([tx("bad", day(0))], timeoutInMinutes=0)).status_code == 400


async def test_options_model(feed: Feed) -> None:
    path = f"{feed.link.connection_path}/options/bankAccounts/chk-1/bankTransactions"
    body = (await feed.api.call("GET", path)).json()
    read("PushOption", body)
    props = body["properties"]["transactions"]["properties"]
    assert {k for k, v in props.items() if v["required"]} == {"id", "date", "description", "amount"}
    details = " ".join(i["details"] for i in body["validation"]["information"])
    assert f"on or after {day(-7)}" in details
    assert "it is connected" in details
    assert (await feed.api.call("GET", path.replace("/chk-1/", "/nope/"))).status_code == 404


async def test_account_transactions_filter_and_page(feed: Feed) -> None:
    await feed.push([tx(f"l{i}", day(0)) for i in range(5)])
    base = f"{feed.link.accounts_path}/chk-1/bankTransactions"
    page = (await feed.api.call("GET", base, params={"pageSize": 2, "page": 2})).json()
    assert [t["id"] for t in page["results"]] == ["l2", "l1"]
    assert page["totalResults"] == 5
    sent = (await feed.api.call("GET", base, params={"status": "sent"})).json()
    assert sent["totalResults"] == 0
    assert (await feed.api.call("GET", base, params={"status": "lost"})).status_code == 400


async def test_push_to_an_account_of_another_connection_is_404(api: Api, feed: Feed) -> None:
    company = await api.company("Elsewhere")
    connection = await api.connection(company["id"])
    base = f"/companies/{company['id']}/connections/{connection['id']}"
    await api.call("POST", f"{base}/connectionInfo/bankFeedAccounts", v1_account("chk-1"))
    mixed = f"/companies/{feed.link.company['id']}/connections/{connection['id']}"
    wrong = f"{mixed}/push/bankAccounts/chk-1/bankTransactions"
    assert (
        await api.call("POST", wrong, {"accountId": "chk-1", "transactions": [tx("t", day(0))]})
    ).status_code == 404


def test_today_constant_is_in_toronto() -> None:
    from zoneinfo import ZoneInfo

    assert NOW.astimezone(ZoneInfo("America/Toronto")).date() == TODAY


async def test_rejected_push_leaves_no_operation_or_rows(
    feed: Feed, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session:
        before_ops = (
            await session.execute(select(func.count()).select_from(PushOperation))
        ).scalar_one()
    rejected(await feed.push([tx("ok", day(0)), tx("bad", day(1))]), "NoFutureDates")
    async with sessions() as session:
        after_ops = (
            await session.execute(select(func.count()).select_from(PushOperation))
        ).scalar_one()
    assert before_ops == after_ops
