"""The push's fast item validation (msgspec) against the model it stands in for (pydantic),
table-driven: whatever the fast path accepts, the model accepts with the same values; what it
declines goes to the model, so no answer or error can differ. Also the JSON parser's fast path
against the standard library's, and the push answer's encoder against the model's serializer."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from app.kit.errors import BadRequest
from app.kit.inputs import parse_json
from app.transactions.rules import _ITEMS
from app.transactions.schemas import BankTransactionIn, fast_items

BASE = {"id": "t-1", "date": "2026-12-01", "description": "Coffee", "amount": Decimal("-4.50")}


def _item(**changes: Any) -> dict[str, Any]:
    item = {**BASE, **changes}
    return {k: v for k, v in item.items() if v is not _DROP}


_DROP = object()

CASES = [
    {},
    {"amount": 5},
    {"amount": 2**70},
    {"amount": "4.50"},
    {"amount": " 4.50"},
    {"amount": "1_000"},
    {"amount": True},
    {"amount": None},
    {"amount": _DROP},
    {"balance": Decimal("10.00")},
    {"balance": "10"},
    {"balance": None},
    {"id": ""},
    {"id": "x" * 100},
    {"id": "x" * 101},
    {"id": "😀" * 100},
    {"id": 12},
    {"description": ""},
    {"description": " "},
    {"description": "d" * 1001},
    {"date": "2026-12-01\n"},
    {"date": "2026-12-01T10:21:00"},
    {"date": "2026-12-01T10:21:00.1234567+05:30"},
    {"date": "2026-12-01T10:21:00.12345678"},
    {"date": "2026-13-45"},
    {"date": "\u0661\u0662\u0663\u0664-\u0661\u0662-\u0660\u0661"},  # Arabic-Indic digits
    {"date": None, "clearedOnDate": "2026-12-01"},
    {"date": 20261201},
    {"transactionType": "Debit"},
    {"transactionType": "debit"},
    {"transactionType": None},
    {"counterparty": "Café", "reference": "R-1"},
    {"counterparty": 5},
    {"reconciled": True, "cleared": True, "status": "posted"},
    {"cleared": "true"},
    {"cleared": 1},
    {"reconciled": None},
    {"unknownField": [1, {"a": 2}]},
]


@pytest.mark.parametrize("changes", CASES)
def test_fast_path_agrees_with_the_model(changes: dict[str, Any]) -> None:
    raw = _item(**changes)
    fast = fast_items([raw])
    try:
        model = _ITEMS.validate_python([raw])
    except ValidationError:
        assert fast is None  # the model refuses: so must the fast path (it then reports why)
        return
    if fast is None:
        return  # declined: the model decides, as before
    assert len(fast) == 1
    for name in BankTransactionIn.model_fields:
        got, want = getattr(fast[0], name), getattr(model[0], name)
        assert got == want and type(got) is type(want), name


def test_the_usual_push_takes_the_fast_path() -> None:
    raws = [_item(id=f"t-{n}") for n in range(100)]
    fast = fast_items(raws)
    assert fast is not None and [i.id for i in fast] == [f"t-{n}" for n in range(100)]
    assert fast_items([*raws, "not an object"]) is None


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 1.10, "b": [1, -0.0, 1e400, 123456789012345678901234567890], "c": null}',
        b'{"a": 1, "a": 2}',
        b'"caf\\u00e9 \\ud83d\\ude00"',
        b"\xef\xbb\xbf{}",
        b"[NaN]",
        b'"\\ud800"',
        b'"\\u0000"',
        b'"a\x00b"',
        b"{}x",
        b'"\xff"',
        b"1" * 4301,
    ],
)
def test_fast_json_parse_agrees_with_the_standard_library(body: bytes) -> None:
    def slow() -> Any:
        from app.kit import inputs

        return inputs._parse_slowly(body)

    try:
        want: Any = ("ok", slow())
    except BadRequest as refused:
        want = ("refused", refused.message)
    try:
        got: Any = ("ok", parse_json(body))
    except BadRequest as refused:
        got = ("refused", refused.message)
    assert json.dumps(got, default=repr) == json.dumps(want, default=repr)


@pytest.mark.parametrize("include", [frozenset(), frozenset({"deliveredOnUtc"})])
def test_push_answer_encodes_as_the_model_does(include: frozenset[str]) -> None:
    """The push answer (msgspec for its echo) says what the model's own serializer says, with
    and without the opt-in extension."""
    import uuid
    from datetime import UTC, datetime

    from pydantic import TypeAdapter

    from app.kit.schemas import included
    from app.transactions import schemas
    from app.transactions.tables import PushOperation

    now = datetime(2026, 12, 6, 7, 30, 1, 123456, tzinfo=UTC)
    op = PushOperation(
        key=uuid.uuid4(),
        company_id=uuid.uuid4(),
        connection_id=uuid.uuid4(),
        account_pk=uuid.uuid4(),
        account_id="acc-1",
        status="Pending",
        status_code=202,
        transaction_count=3,
        requested_at=now,
        timeout_minutes=30,
        deadline_at=now,
        warnings=[{"itemId": "t-2", "message": "a Debit", "validatorName": "TransactionTypeSign"}],
        delivered_at=now,
    )
    echo: list[schemas.BankTransactionEcho] = [
        {"id": "t-1", "date": "2026-12-01", "description": "Café", "amount": Decimal("-4.50")},
        {
            "id": "t-2",
            "date": "2026-12-02T10:21:00",
            "description": "Pay",
            "amount": Decimal("1E+2"),
            "balance": Decimal("0.00"),
            "transactionType": "Debit",
        },
        {
            "id": "t-3",
            "date": "2026-12-03",
            "description": "x",
            "amount": Decimal("123456789012.99"),
        },
    ]
    wire = schemas.to_wire(op)
    data = schemas.PushedData.model_construct(accountId="acc-1", transactions=echo)
    answer = schemas.CreateBankTransactionsResponse.model_construct(**dict(wire), data=data)
    token = included.set(include)
    try:
        fast = schemas.encode_push_answer(answer)
        model = TypeAdapter(schemas.CreateBankTransactionsResponse).dump_json(answer, by_alias=True)
    finally:
        included.reset(token)
    assert json.loads(fast, parse_float=Decimal) == json.loads(model, parse_float=Decimal)
    assert list(json.loads(fast)) == list(json.loads(model))  # the same keys in the same order
    assert ("deliveredOnUtc" in json.loads(fast)) == bool(include)
