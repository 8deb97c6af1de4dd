"""The IDX mapping on its own: our accounts and transactions in Intuit's shapes (no database)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from app.accounts.tables import SourceAccount
from app.idx.service import (
    TRANSACTION_NAMESPACE,
    intuit_transactions,
    intuit_type,
    mask,
    to_intuit_account,
)
from app.transactions.tables import BankTransaction

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def account(**extra: Any) -> SourceAccount:
    fields: dict[str, Any] = {
        "pk": uuid.UUID(int=1),
        "account_id": "acc-1",
        "account_name": "Operating",
        "account_type": "checking",
        "account_number": "12345678",
        "currency": "CAD",
        "balance": Decimal("10.5"),
        "modified_date": NOW,
        "created_at": NOW,
        **extra,
    }
    return SourceAccount(**fields)


@pytest.mark.parametrize(
    ("ours", "intuit"),
    [
        ("checking", ("deposit", "checking")),
        ("savings", ("deposit", "savings")),
        ("loan", ("loan", "loan")),
        ("creditCard", ("creditcard", "creditcard")),
        ("prepaid_card", ("cashcard", "prepaidcard")),
        ("Credit", ("creditcard", "creditcard")),  # v1's free text: Credit means a card
        ("Credit Cards", ("creditcard", "creditcard")),
        ("prepaid", ("cashcard", "prepaidcard")),
        ("Mortgage", ("loan", "loan")),
        ("Debit", ("deposit", "checking")),
        (None, ("deposit", "checking")),
    ],
)
def test_account_types(ours: str | None, intuit: tuple[str, str]) -> None:
    assert intuit_type(account(account_type=ours)) == intuit


@pytest.mark.parametrize(
    ("number", "masked"),
    [("12345678", "••••5678"), (" 99 ", "••••99"), (None, "••••"), ("", "••••")],
)
def test_numbers_are_masked(number: str | None, masked: str) -> None:
    assert mask(number) == masked


@pytest.mark.parametrize(
    ("kind", "balance_field"),
    [
        ("checking", "depositAccountInfo"),
        ("creditcard", "creditCardAccountInfo"),
        ("prepaidcard", "cashCardAccountInfo"),
        ("loan", "loanAccountInfo"),
    ],
)
def test_an_account_carries_the_balance_of_its_kind(kind: str, balance_field: str) -> None:
    wire = to_intuit_account(account(account_type=kind))
    assert wire.accountDisplayInfo.displayName == "Operating ••••5678"
    assert getattr(wire, balance_field) is not None
    dumped = wire.model_dump(exclude_none=True)
    others = {"depositAccountInfo", "creditCardAccountInfo", "cashCardAccountInfo"}
    assert others - {balance_field} & set(dumped) == set()


@pytest.mark.parametrize(
    ("amount", "value_type", "shown"),
    [(Decimal("-4.5"), "DEBIT", "-4.50"), (Decimal("1200"), "CREDIT", "1200.00")],
)
def test_transactions(amount: Decimal, value_type: str, shown: str) -> None:
    row = BankTransaction(
        transaction_id="t1",
        cleared_on=date(2026, 11, 19),
        description="Coffee",
        amount=amount,
        sent_at=NOW,
    )
    owner = account()
    (wire,) = intuit_transactions(owner, intuit_type(owner)[0], [row])
    assert wire.transactionId == str(uuid.uuid5(TRANSACTION_NAMESPACE, f"{uuid.UUID(int=1)}/t1"))
    assert wire.transactionValueType == value_type
    assert wire.amount.amount == shown and wire.amount.currency == "CAD"
    assert wire.transactionDate == date(2026, 11, 19) and wire.modifiedDate == NOW
