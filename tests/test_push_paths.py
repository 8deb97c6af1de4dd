"""The push's one write (`store_push`: one INSERT ... SELECT from a JSON rows parameter, at every
size, on PostgreSQL and SQLite alike): a known id is refused the same way at any size, and
nothing of the push stays."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.dialects.sqlite.aiosqlite import dialect as aiosqlite_dialect

from app.transactions import repository
from tests.helpers.clients import Linkable
from tests.helpers.feeds import connect, day, tx


@pytest.mark.parametrize("size", [3, 1000])
async def test_a_known_id_refuses_the_push_and_leaves_nothing(
    linkable: Linkable, size: int
) -> None:
    feed = await connect(linkable)
    first = await feed.push([tx("a", day(-1)), tx("b", day(-1), balance="5.00")])
    assert first.status_code == 200
    before = await feed.account()
    fresh = [tx(f"n{i}", day(0)) for i in range(size - 1)]
    mixed = [*fresh[:1], tx("a", day(0)), *fresh[1:-1], tx(fresh[-1]["id"], day(0), balance="9")]
    r = await feed.push(mixed)
    assert r.status_code == 400, r.text
    errors = r.json()["validation"]["errors"]
    assert [(e["itemId"], e["validatorName"]) for e in errors] == [("a", "UniqueTransactionId")]
    assert "already accepted" in errors[0]["message"]
    # No operation for the refused push, and the account's balance and dates as they were.
    operations = await feed.api.call("GET", f"/companies/{linkable.company['id']}/push")
    assert [o["pushOperationKey"] for o in operations.json()["results"]] == [
        first.json()["pushOperationKey"]
    ]
    assert await feed.account() == before
    # The push's other rows were not kept: the same ids go through afterwards.
    again = await feed.push(fresh)
    assert again.status_code == 200, again.text
    assert len(again.json()["data"]["transactions"]) == size - 1


AWKWARD = [
    "tab\there",
    "line\nbreak",
    "back\\slash \\N",
    "cr\rhere",
    "«café» \\t",
    'say "hi", [1]',
    "bank 🏦 \u2028 sep",
    "plain",
]


@pytest.mark.parametrize("size", [len(AWKWARD), 1000])
async def test_every_value_is_stored_as_sent_on_both_paths(linkable: Linkable, size: int) -> None:
    """Ids, descriptions, amounts, balances and types come back exactly as pushed at any size
    (the rows travel as JSON text: tabs, newlines, backslashes, quotes and astral characters
    must survive its encoding and the database's JSON reading)."""
    feed = await connect(linkable)
    types = ["Debit", "Credit", None]
    items = []
    for n in range(size):
        text = AWKWARD[n % len(AWKWARD)]
        item = tx(f"{text}#{n}", day(0), f"-{n + 1}.0{n % 10}", description=f"{text} {n}")
        if n % 2:
            item["balance"] = f"{n}.5"
        if types[n % 3] is not None:
            item["transactionType"] = types[n % 3]
        items.append(item)
    items[-1]["amount"] = 1e12  # a JSON number: Decimal("1E+12")
    r = await feed.push(items)
    assert r.status_code == 200, r.text
    listed = await feed.api.call(
        "GET", f"{linkable.accounts_path}/chk-1/bankTransactions", params={"pageSize": 1000}
    )
    stored = {t["id"]: t for t in listed.json()["results"]}
    assert len(stored) == size
    for item in items:
        got = stored[item["id"]]
        assert got["description"] == item["description"]
        assert Decimal(str(got["amount"])) == Decimal(str(item["amount"]))
        assert (None if got["balance"] is None else Decimal(str(got["balance"]))) == (
            Decimal(item["balance"]) if "balance" in item else None
        )
        assert got["transactionType"] == item.get("transactionType")


def test_the_embedded_round_runs_the_postgresql_write() -> None:
    """SQLite (CI's embedded round, the default test run) runs the push's write PostgreSQL runs:
    the same three statements built from the same Table objects (`store_push`), so the tests
    above exercise its logic on both. What differs, and only this:

    - how the one JSON rows parameter is read: PostgreSQL `jsonb_array_elements(CAST(:rows AS
      JSONB))` and `CAST(value ->> n AS <the column's type>)`; SQLite `json_each(:rows)` and
      `json_extract(value, '$[n]')`, the values already in their stored form (cents, ISO
      dates) by the columns' own bind processors;
    - the dialect's own INSERT construct for ON CONFLICT (account_pk, transaction_id) DO NOTHING
      (SQLite needs the `WHERE true` both carry);
    - PostgreSQL runs the three writes as one WITH statement (one round trip; the operation and
      the account written only if every row went in), SQLite one after another with that count
      checked in Python (SQLite has no INSERT or UPDATE inside WITH);
    - the runner (`app.db.Direct`): asyncpg's own `execute` once the transaction is open on
      PostgreSQL, the DBAPI cursor otherwise and on SQLite."""
    postgres, sqlite = asyncpg_dialect(), aiosqlite_dialect()
    rows = {d.name: str(repository._add_rows(d).compile(dialect=d)) for d in (postgres, sqlite)}
    columns = {name: sql.split(") SELECT ")[0] for name, sql in rows.items()}
    assert columns["postgresql"] == columns["sqlite"]
    assert columns["postgresql"].startswith("INSERT INTO bank_transactions (transaction_id")
    for sql in rows.values():
        assert sql.endswith("ON CONFLICT (account_pk, transaction_id) DO NOTHING")
    assert "jsonb_array_elements(CAST(" in rows["postgresql"]
    assert "json_each(?)" in rows["sqlite"]
    # PostgreSQL's one statement holds the very pieces SQLite runs apart.
    for keys in repository._ACCOUNT_KEYS:
        whole = str(repository._whole_push(keys)(postgres).compile(dialect=postgres))
        alone = str(repository._MOVE_ACCOUNT[keys].statement_for(sqlite).compile(dialect=sqlite))
        assert whole.startswith("WITH added AS \n(" + rows["postgresql"].split(" $")[0])
        assert alone.split(" SET ")[0] in whole
        assert "INSERT INTO push_operations (key, company_id" in whole
