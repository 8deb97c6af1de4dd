"""transactions/rules.py on its own: each rule of a push, one row each (no database)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from app.transactions.rules import AccountState, judge

TODAY = date(2026, 11, 20)
CONNECTED = AccountState(
    status="connected", feed_start_date=None, latest_cleared_on=None, today=TODAY
)


def item(ident: str = "t1", day: str = "2026-11-19", amount: Any = -4.5, **extra: Any) -> Any:
    return {"id": ident, "date": day, "description": "Coffee", "amount": amount, **extra}


# (case, items, account, known ids, the validator names of the errors expected)
CASES: list[tuple[str, list[Any], AccountState, set[str], list[str]]] = [
    ("a good push", [item(), item("t2", "2026-11-20")], CONNECTED, set(), []),
    (
        "not connected",
        [item()],
        AccountState("disconnected", None, None, TODAY),
        set(),
        ["AccountConnected"],
    ),
    ("no transactions", [], CONNECTED, set(), ["TransactionCount"]),
    ("an id twice", [item(), item()], CONNECTED, set(), ["UniqueTransactionId"]),
    ("an id accepted before", [item()], CONNECTED, {"t1"}, ["UniqueTransactionId"]),
    ("blank description", [item(description="  ")], CONNECTED, set(), ["RequiredFields"]),
    ("not an object", ["t1"], CONNECTED, set(), ["RequiredFields"]),
    ("pending", [item(status="pending")], CONNECTED, set(), ["ClearedOnly"]),
    ("not cleared", [item(cleared=False)], CONNECTED, set(), ["ClearedOnly"]),
    ("in the future", [item(day="2026-11-21")], CONNECTED, set(), ["NoFutureDates"]),
    ("eight days back", [item(day="2026-11-12")], CONNECTED, set(), ["SevenDayBackfill"]),
    ("seven days back", [item(day="2026-11-13")], CONNECTED, set(), []),
    (
        "before the feed start",
        [item(day="2026-11-15")],
        AccountState("connected", date(2026, 11, 16), None, TODAY),
        set(),
        ["SevenDayBackfill"],
    ),
    (
        "out of order",
        [item(day="2026-11-19"), item("t2", "2026-11-18")],
        CONNECTED,
        set(),
        ["Chronological"],
    ),
    (
        "before the latest accepted",
        [item(day="2026-11-17")],
        AccountState("connected", None, date(2026, 11, 18), TODAY),
        set(),
        ["Chronological"],
    ),
    ("three decimals", [item(amount=1.234)], CONNECTED, set(), ["Amount"]),
    ("zero", [item(amount=0)], CONNECTED, set(), ["Amount"]),
    ("fourteen digits", [item(amount=10**13)], CONNECTED, set(), ["Amount"]),
    # Beyond the decimal context: a remainder of it raised InvalidOperation (a 500).
    ("a 220-digit amount", [item(amount=-2.291876570663043e220)], CONNECTED, set(), ["Amount"]),
    ("a balance of 220 digits", [item(balance=1e220)], CONNECTED, set(), ["Balance"]),
    ("zero balance is fine", [item(balance=0)], CONNECTED, set(), []),
    ("balance of three decimals", [item(balance=1.005)], CONNECTED, set(), ["Balance"]),
]


@pytest.mark.parametrize(
    ("items", "account", "known", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_each_rule(
    items: list[Any], account: AccountState, known: set[str], expected: list[str]
) -> None:
    verdict = judge(items, account, known)
    assert [e.validatorName for e in verdict.errors] == expected
    assert (verdict.items != []) == (expected == [] and items != [])


@pytest.mark.parametrize(
    ("kind", "amount", "warned"),
    [("Debit", 5, True), ("Debit", -5, False), ("Credit", -5, True), ("Credit", 5, False)],
)
def test_a_sign_against_its_type_is_a_warning_not_an_error(
    kind: str, amount: int, warned: bool
) -> None:
    verdict = judge([item(amount=amount, transactionType=kind)], CONNECTED)
    assert verdict.errors == []
    assert [w.validatorName for w in verdict.warnings] == (
        ["TransactionTypeSign"] if warned else []
    )
