"""QuickBooks Online's rules for a push, as pure functions of the push and the account's state.

A push is judged whole: every failing item is reported (itemId = the transaction's id, or its
position when it has none), and if anything fails nothing is stored. Validator names:

  AccountConnected    rule 1  the account must be connected
  TransactionCount    rule 2  1 to 1000 transactions
  UniqueTransactionId rule 2  ids unique in the push and against everything accepted before
  RequiredFields      rule 2  id, date, description, amount present and of the right type
  ClearedOnly         rule 3  a cleared-on date; not pending; date and clearedOnDate agree
  NoFutureDates       rule 4  cleared on today or earlier, in the company's time zone
  SevenDayBackfill    rule 5  on/after feedStartDate and at most 7 days back
  Chronological       rule 6  ascending, and not before the latest accepted transaction
  Amount              rule 7  at most 2 decimal places, not zero, at most 13 integer digits
  Balance             rule 8  the same format as amounts (zero allowed)
  TransactionTypeSign warning: a Debit with a positive amount, or a Credit with a negative one
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from pydantic import TypeAdapter, ValidationError

from app.kit.money import amount_text
from app.kit.schemas import ErrorValidationItem
from app.transactions.schemas import (
    MAX_ITEMS,
    BankTransactionIn,
    FastItem,
    fast_items,
    local_date,
)

BACKFILL_DAYS = 7
MAX_INTEGER_DIGITS = 13
_ITEM = TypeAdapter(BankTransactionIn)
_ITEMS = TypeAdapter(list[BankTransactionIn])
_FIELD_RULE = {
    "id": "RequiredFields",
    "description": "RequiredFields",
    "amount": "Amount",
    "balance": "Balance",
    "date": "ClearedOnly",
    "clearedOnDate": "ClearedOnly",
    "transactionType": "RequiredFields",
    "status": "ClearedOnly",
    "cleared": "ClearedOnly",
}


@dataclass(frozen=True)
class AccountState:
    status: str
    feed_start_date: date | None
    latest_cleared_on: date | None
    today: date


@dataclass
class Accepted:
    id: str
    cleared_on: date
    description: str
    amount: Decimal
    balance: Decimal | None
    transaction_type: str | None
    date_text: str
    payee_name: str | None = None
    reference_number: str | None = None


# IDX payeeName and referenceNumber are plain strings in Intuit's contract (no length given);
# what QuickBooks' bank rules match on is kept up to these lengths, as bank statements carry them.
PAYEE_MAX = 255
REFERENCE_MAX = 100


def trimmed(value: str | None, limit: int) -> str | None:
    """A counterparty or reference as served: control characters out, spaces collapsed and
    trimmed, cut to `limit` characters; None when nothing is left."""
    if value is None:
        return None
    text = " ".join("".join(c if c.isprintable() else " " for c in value).split())
    return text[:limit].rstrip() or None


@dataclass
class Verdict:
    items: list[Accepted] = field(default_factory=list)
    errors: list[ErrorValidationItem] = field(default_factory=list)
    warnings: list[ErrorValidationItem] = field(default_factory=list)

    def error(self, item: str, rule: str, message: str) -> None:
        self.errors.append(ErrorValidationItem(itemId=item, message=message, validatorName=rule))

    def warn(self, item: str, rule: str, message: str) -> None:
        self.warnings.append(ErrorValidationItem(itemId=item, message=message, validatorName=rule))


def item_id(raw: Any, index: int) -> str:
    if isinstance(raw, dict) and isinstance(raw.get("id"), str) and raw["id"].strip():
        return str(raw["id"])
    return f"transactions[{index}]"


_HUNDRED = Decimal(100)
_LIMIT = Decimal(10) ** MAX_INTEGER_DIGITS


def _money_problem(value: Decimal, *, zero_ok: bool) -> str | None:
    # The size first: a remainder of 1e220 is beyond the decimal context (InvalidOperation).
    if abs(value) >= _LIMIT:
        return f"is too large (at most {MAX_INTEGER_DIGITS} digits before the point)"
    if (value * _HUNDRED) % 1:
        return "has more than 2 decimal places"
    if not zero_ok and value == 0:
        return "is zero; QuickBooks needs a non-zero amount"
    return None


def _parse(raw: Any, index: int, verdict: Verdict) -> BankTransactionIn | None:
    ident = item_id(raw, index)
    if not isinstance(raw, dict):
        verdict.error(ident, "RequiredFields", f"{ident}: each transaction must be an object")
        return None
    try:
        return _ITEM.validate_python(raw)
    except ValidationError as exc:
        for err in exc.errors(include_url=False, include_input=False):
            name = str(err["loc"][0]) if err["loc"] else "transaction"
            rule = _FIELD_RULE.get(name, "RequiredFields")
            verdict.error(ident, rule, f"{ident}: {name} {err['msg'].lower()}")
        return None


def _cleared_on(item: BankTransactionIn | FastItem, ident: str, verdict: Verdict) -> date | None:
    if item.status is not None and item.status.strip().lower() == "pending":
        verdict.error(
            ident,
            "ClearedOnly",
            f"{ident}: pending transactions cannot be pushed; push it once it has cleared",
        )
        return None
    if item.cleared is False:
        verdict.error(
            ident, "ClearedOnly", f"{ident}: cleared is false; push it once it has cleared"
        )
        return None
    if item.date is None and item.clearedOnDate is None:
        verdict.error(ident, "ClearedOnly", f"{ident}: date (the cleared-on date) is required")
        return None
    try:
        day = local_date(item.date) if item.date is not None else None
        alias = local_date(item.clearedOnDate) if item.clearedOnDate is not None else None
    except ValueError as exc:
        verdict.error(ident, "ClearedOnly", f"{ident}: {exc}")
        return None
    if day is not None and alias is not None and day != alias:
        verdict.error(
            ident,
            "ClearedOnly",
            f"{ident}: date {day} and clearedOnDate {alias} disagree; send one cleared-on date",
        )
        return None
    return day or alias


def raw_ids(raw_items: Sequence[Any]) -> list[str]:
    return [r["id"] for r in raw_items if isinstance(r, dict) and isinstance(r.get("id"), str)]


def judge(
    raw_items: Sequence[Any], account: AccountState, known: frozenset[str] | set[str] = frozenset()
) -> Verdict:
    """Every rule over the whole push; `items` is filled only when there is no error.

    `known` holds the ids among these already accepted for the account.
    """
    verdict = Verdict()
    count = len(raw_items)
    if account.status != "connected":
        why = (
            "the feed was disconnected in QuickBooks; writes fail"
            if account.status == "disconnected"
            else "the account is not yet connected in QuickBooks"
        )
        verdict.error(
            "account", "AccountConnected", f"Cannot push: {why} (status {account.status})."
        )
    if count == 0 or count > MAX_ITEMS:
        verdict.error(
            "transactions",
            "TransactionCount",
            f"A push carries 1 to {MAX_ITEMS} transactions, not {count}.",
        )

    earliest = account.today - timedelta(days=BACKFILL_DAYS)
    seen: set[str] = set()
    previous: date | None = None
    accepted: list[Accepted] = []
    # One call into msgspec for the whole push; when it declines, one into pydantic-core; item by
    # item only to report errors.
    parsed: Sequence[BankTransactionIn | FastItem | None] | None = fast_items(raw_items)
    if parsed is None:
        try:
            parsed = _ITEMS.validate_python(raw_items)
        except ValidationError:
            parsed = [_parse(raw, index, verdict) for index, raw in enumerate(raw_items)]
    for item in parsed:
        if item is None:
            continue
        ident = item.id
        if item.id in seen:
            verdict.error(
                ident, "UniqueTransactionId", f"{ident}: the id appears twice in this push"
            )
        elif item.id in known:
            verdict.error(
                ident,
                "UniqueTransactionId",
                f"{ident}: already accepted for this account in an earlier push",
            )
        seen.add(item.id)
        if not item.description.strip():
            verdict.error(ident, "RequiredFields", f"{ident}: description must not be blank")
        problem = _money_problem(item.amount, zero_ok=False)
        if problem:
            verdict.error(ident, "Amount", f"{ident}: amount {item.amount} {problem}")
        if item.balance is not None and (problem := _money_problem(item.balance, zero_ok=True)):
            verdict.error(ident, "Balance", f"{ident}: balance {item.balance} {problem}")
        if item.transactionType == "Debit" and item.amount > 0:
            verdict.warn(
                ident,
                "TransactionTypeSign",
                f"{ident}: a Debit with a positive amount ({item.amount}); QuickBooks "
                "shows money in by the sign of the amount",
            )
        elif item.transactionType == "Credit" and item.amount < 0:
            verdict.warn(
                ident,
                "TransactionTypeSign",
                f"{ident}: a Credit with a negative amount ({item.amount}); QuickBooks "
                "shows money out by the sign of the amount",
            )

        cleared = _cleared_on(item, ident, verdict)
        if cleared is None:
            continue
        if cleared > account.today:
            verdict.error(
                ident,
                "NoFutureDates",
                f"{ident}: cleared on {cleared}, after today ({account.today} in the "
                "company's time zone); future-dated transactions cannot be pushed",
            )
        if cleared < earliest:
            verdict.error(
                ident,
                "SevenDayBackfill",
                f"{ident}: cleared on {cleared}, more than {BACKFILL_DAYS} days back "
                f"(the earliest allowed today is {earliest})",
            )
        elif account.feed_start_date and cleared < account.feed_start_date:
            verdict.error(
                ident,
                "SevenDayBackfill",
                f"{ident}: cleared on {cleared}, before the feed start date "
                f"{account.feed_start_date} chosen in QuickBooks",
            )
        if previous is not None and cleared < previous:
            verdict.error(
                ident,
                "Chronological",
                f"{ident}: cleared on {cleared}, before the item above it ({previous}); "
                "send transactions in ascending date order",
            )
        if account.latest_cleared_on and cleared < account.latest_cleared_on:
            verdict.error(
                ident,
                "Chronological",
                f"{ident}: cleared on {cleared}, before the latest transaction already "
                f"accepted for this account ({account.latest_cleared_on})",
            )
        previous = cleared if previous is None else max(previous, cleared)
        accepted.append(
            Accepted(
                item.id,
                cleared,
                item.description,
                item.amount,
                item.balance,
                item.transactionType,
                item.date or item.clearedOnDate or cleared.isoformat(),
                None if item.counterparty is None else trimmed(item.counterparty, PAYEE_MAX),
                None if item.reference is None else trimmed(item.reference, REFERENCE_MAX),
            )
        )
    if not verdict.errors:
        verdict.items = accepted
    return verdict


def continuity_error(
    items: Sequence[Accepted], running: Decimal | None
) -> ErrorValidationItem | None:
    """Strict balance mode: the first item whose balance is not the running balance (the line
    before it, already accepted (`running`) or in this push, plus its amount); None when it
    holds."""
    for item in items:
        expected = running + item.amount if running is not None else None
        if item.balance is not None and expected is not None and item.balance != expected:
            return ErrorValidationItem(
                itemId=item.id,
                message=f"{item.id}: balance {amount_text(item.balance)} breaks the running "
                f"balance (expected {amount_text(expected)}: the previous balance plus "
                f"{amount_text(item.amount)}); a line may be missing before it.",
                validatorName="BalanceContinuity",
            )
        running = item.balance if item.balance is not None else expected
    return None
