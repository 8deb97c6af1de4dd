"""transactions/rules.py on its own: each rule of a push, one row each (no database)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from app.transactions.rules import Accepted, AccountState, continuity_error, judge

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


def line(ident: str, amount: str, balance: str | None) -> Accepted:
    return Accepted(
        ident, TODAY, "Coffee", Decimal(amount), Decimal(balance) if balance else None, None, ""
    )


# (case, the balance before the push, its lines, the line refused or None)
CONTINUITY: list[tuple[str, str | None, list[Accepted], str | None]] = [
    ("each balance follows", "10.00", [line("a", "-2.50", "7.50"), line("b", "1", "8.50")], None),
    ("the first breaks", "10.00", [line("a", "-2.50", "8.00")], "a"),
    ("a later one breaks", "10.00", [line("a", "-2", "8"), line("b", "-1", "6")], "b"),
    (
        "a line without balance carries on",
        "10",
        [line("a", "-2", None), line("b", "-1", "7")],
        None,
    ),
    (
        "a gap after a line without balance",
        "10",
        [line("a", "-2", None), line("b", "-1", "9")],
        "b",
    ),
    (
        "no balance before: the first sets it",
        None,
        [line("a", "-2", "5"), line("b", "1", "6")],
        None,
    ),
]


@pytest.mark.parametrize(
    ("running", "items", "refused"), [c[1:] for c in CONTINUITY], ids=[c[0] for c in CONTINUITY]
)
def test_strict_balance_continuity(
    running: str | None, items: list[Accepted], refused: str | None
) -> None:
    error = continuity_error(items, Decimal(running) if running else None)
    assert (error.itemId if error else None) == refused
    if error is not None:
        assert error.validatorName == "BalanceContinuity"
        assert "breaks the running balance" in error.message
