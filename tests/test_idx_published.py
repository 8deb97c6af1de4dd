"""What QuickBooks sees is what was published (SPEC §5): the balance of the latest sent line that
carried one (never a pending line's), and a pushed counterparty/reference as payeeName and
referenceNumber, everywhere a transaction is shown (the extension, the portal's CSV, a re-serve).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import clock
from app.transactions.rules import PAYEE_MAX, REFERENCE_MAX, trimmed
from app.transactions.tables import BankTransaction
from tests.contracts import assert_idx_valid
from tests.helpers.builders import v2_account
from tests.helpers.clients import Linkable
from tests.helpers.feeds import NOW, Feed, connect, day, tx


async def idx_balance(feed: Feed) -> dict[str, Any]:
    body = (await feed.idx.get("/accounts", pageSize=2000)).json()
    assert_idx_valid("IntuitAccounts", body)
    account = next(a for a in body["results"] if a["id"] == feed.idx_account_id)
    return account["depositAccountInfo"]["depositBalance"]  # type: ignore[no-any-return]


async def test_balance_waits_for_its_line_to_be_sent(linkable: Linkable) -> None:
    feed = await connect(linkable)
    try:
        before = await idx_balance(feed)
        assert before["currentBalance"] == {"currency": "USD", "amount": "1234.56"}
        assert "availableBalance" not in before

        clock.freeze(NOW + timedelta(hours=1))
        r = await feed.push([tx("b1", day(-1), "-34.56", balance="1200.00")])
        assert r.status_code == 200, r.text
        # The client API shows what the client last told us at once ...
        assert (await feed.account())["balance"] == 1200
        # ... but QuickBooks sees the old balance while the line is pending.
        assert await idx_balance(feed) == before

        clock.freeze(NOW + timedelta(hours=2))
        assert (await feed.pull(day(-1), day(1))).status_code == 200  # Update sends it
        after = await idx_balance(feed)
        assert after["currentBalance"] == {"currency": "USD", "amount": "1200.00"}
        assert after["balanceAsOf"] == day(-1)

        # A later pending line with a balance does not move it; a line without one neither.
        clock.freeze(NOW + timedelta(hours=3))
        r = await feed.push([tx("b2", day(0), "-200.00", balance="1000.00")])
        assert r.status_code == 200, r.text
        assert await idx_balance(feed) == after
        r = await feed.push([tx("b3", day(0), "-1.00")])
        assert r.status_code == 200, r.text
        assert (await feed.pull(day(-1), day(1))).status_code == 200
        latest = await idx_balance(feed)
        assert latest["currentBalance"]["amount"] == "1000.00"
        assert latest["balanceAsOf"] == day(0)

        # A re-serve of old lines brings no old balance back.
        path = f"{feed.account_path}/reserve"
        r = await feed.api.call("POST", path, {"fromDate": day(-1), "toDate": day(-1)})
        assert r.status_code in (200, 201, 202), r.text
        assert (await idx_balance(feed))["currentBalance"]["amount"] == "1000.00"
    finally:
        clock.reset()


async def test_available_balance_is_served_when_known(linkable: Linkable) -> None:
    clock.freeze(NOW)
    try:
        info = {"nickname": "Float", "availableBalance": 350.25}
        r = await linkable.api.call(
            "POST",
            linkable.accounts_path,
            v2_account("sav-9", accountName="Float", accountInfo=info),
        )
        assert r.status_code == 200, r.text
        listing = (await linkable.idx.get("/accounts")).json()
        assert_idx_valid("IntuitAccounts", listing)
        by_name = {a["accountDisplayInfo"]["description"]: a for a in listing["results"]}
        balance = by_name["Float"]["depositAccountInfo"]["depositBalance"]
        assert balance["availableBalance"] == {"currency": "CAD", "amount": "350.25"}
        assert balance["currentBalance"] == {"currency": "CAD", "amount": "400.00"}
        assert "availableBalance" not in by_name["Savings"]["depositAccountInfo"]["depositBalance"]
    finally:
        clock.reset()


def test_trimming() -> None:
    assert trimmed(None, 10) is None
    assert trimmed("  \t ", 10) is None
    assert trimmed("  Café\x00 Dupont\n Ltée ", 100) == "Café Dupont Ltée"
    assert trimmed("x" * 300, PAYEE_MAX) == "x" * PAYEE_MAX
    assert trimmed("ab " + "c" * 200, REFERENCE_MAX) == ("ab " + "c" * 200)[:REFERENCE_MAX]
    assert trimmed("abcd efgh", 5) == "abcd"


async def test_payee_and_reference_reach_quickbooks(
    linkable: Linkable, sessions: async_sessionmaker[AsyncSession]
) -> None:
    feed = await connect(linkable)
    try:
        clock.freeze(NOW + timedelta(hours=1))
        long_payee = "Café " + "P" * 400
        items = [
            tx("p1", day(-1), counterparty="  Amazon\tMarketplace ", reference="Ref-12345"),
            tx("p2", day(-1), counterparty=long_payee, reference="R" * 150),
            tx("p3", day(-1)),
            tx("p4", day(-1), counterparty="   ", reference=""),
        ]
        # A small push and a large one (one write path at every size: payee and reference
        # travel in the rows' JSON parameter like every other column).
        r = await feed.push(items)
        assert r.status_code == 200, r.text
        bulk = [
            tx(f"q{k}", day(-1), counterparty=f"Payee {k}", reference=f"Q{k}") for k in range(250)
        ]
        r = await feed.push(bulk)
        assert r.status_code == 200, r.text
        async with sessions() as session:
            stored = {
                t.transaction_id: (t.payee_name, t.reference_number)
                for t in (await session.execute(select(BankTransaction))).scalars()
                if t.transaction_id.startswith(("p", "q"))
            }
        assert stored["q249"] == ("Payee 249", "Q249")

        pulled = (await feed.pull(day(-1), day(1))).json()
        assert_idx_valid("IntuitTransactions", pulled)
        assert pulled["totalResults"] == 254
        by_id = {
            t["transactionDescription"].removeprefix("Purchase "): t for t in pulled["results"]
        }
        assert by_id["p1"]["payeeName"] == "Amazon Marketplace"
        assert by_id["p1"]["referenceNumber"] == "Ref-12345"
        assert by_id["p2"]["payeeName"] == long_payee[:PAYEE_MAX]
        assert by_id["p2"]["referenceNumber"] == "R" * REFERENCE_MAX
        for blank in ("p3", "p4"):
            assert "payeeName" not in by_id[blank]
            assert by_id[blank]["referenceNumber"] is None
        assert by_id["q7"]["payeeName"] == "Payee 7"
        assert by_id["q7"]["referenceNumber"] == "Q7"

        # The account transactions extension shows them as served.
        listed = await feed.api.call(
            "GET", f"{feed.account_path}/bankTransactions", params={"pageSize": 500}
        )
        assert listed.status_code == 200, listed.text
        rows = {t["id"]: t for t in listed.json()["results"]}
        assert (rows["p1"]["counterparty"], rows["p1"]["reference"]) == (
            "Amazon Marketplace",
            "Ref-12345",
        )
        assert rows["p3"]["counterparty"] is None

        # A re-serve serves them again, the same.
        clock.freeze(NOW + timedelta(days=1))
        path = f"{feed.account_path}/reserve"
        r = await feed.api.call("POST", path, {"fromDate": day(-1), "toDate": day(-1)})
        assert r.status_code in (200, 201, 202), r.text
        again = (await feed.pull(day(0), day(2))).json()
        first = next(
            t for t in again["results"] if t["transactionId"] == by_id["p1"]["transactionId"]
        )
        assert (first["payeeName"], first["referenceNumber"]) == ("Amazon Marketplace", "Ref-12345")
    finally:
        clock.reset()


async def test_push_options_describe_payee_and_reference(linkable: Linkable) -> None:
    feed = await connect(linkable)
    try:
        path = f"{linkable.connection_path}/options/bankAccounts/{feed.account_id}/bankTransactions"
        r = await feed.api.call("GET", path)
        assert r.status_code == 200, r.text
        text = r.text
        assert "payeeName" in text and "referenceNumber" in text
        fields = r.json()["properties"]["transactions"]["properties"]
        for name in ("counterparty", "reference"):
            assert "ignored" not in fields[name]["description"].lower()
    finally:
        clock.reset()
