"""Push validation notes in the page's language.

Rejected pushes, operations' warnings and their failure messages are stored as the API sent
them: English text (`message`) under a validator name (`validatorName`), the item's id in front.
The portal shows them translated from the validator and the values in the text (dates as dates,
amounts as numbers of the language), and without the id a second time. A text no pattern knows
is shown as it is, marked `lang="en"` so screen readers read it in English.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import format_decimal

from app import i18n


def _(message: str) -> str:
    """Marks a message for pybabel extract; it is translated when shown."""
    return message


@dataclass(frozen=True)
class Note:
    """One line of a push's validation: its item, the words, and their language."""

    item: str
    text: str
    lang: str
    validator: str


# (validator, the English text as app/transactions/rules.py writes it, the words to show).
# Groups named day* are dates, amount* numbers; the others are shown as they are.
PATTERNS: list[tuple[str, str, str]] = [
    (
        "AccountConnected",
        r"Cannot push: the feed was disconnected in QuickBooks; writes fail "
        r"\(status (?P<status>\w+)\)\.",
        _("The feed was disconnected in QuickBooks: nothing can be pushed to it."),
    ),
    (
        "AccountConnected",
        r"Cannot push: the account is not yet connected in QuickBooks \(status (?P<status>\w+)\)\.",
        _("The account is not connected in QuickBooks yet: nothing can be pushed to it."),
    ),
    (
        "TransactionCount",
        r"A push carries 1 to (?P<most>\d+) transactions, not (?P<count>\d+)\.",
        _("A push carries 1 to %(most)s transactions, not %(count)s."),
    ),
    (
        "RequiredFields",
        r"each transaction must be an object",
        _("Each transaction must be an object."),
    ),
    ("RequiredFields", r"description must not be blank", _("The description is blank.")),
    (
        "UniqueTransactionId",
        r"the id appears twice in this push",
        _("This id appears twice in the push."),
    ),
    (
        "UniqueTransactionId",
        r"already accepted for this account in an earlier push",
        _("This id was already accepted for this account in an earlier push."),
    ),
    (
        "Amount|Balance",
        r"(?P<field>amount|balance) (?P<amount>\S+) has more than 2 decimal places",
        _("The %(field)s %(amount)s has more than 2 decimal places."),
    ),
    (
        "Amount",
        r"amount (?P<amount>\S+) is zero; QuickBooks needs a non-zero amount",
        _("The amount is zero; QuickBooks needs an amount other than zero."),
    ),
    (
        "Amount|Balance",
        r"(?P<field>amount|balance) (?P<amount>\S+) is too large \(at most (?P<most>\d+) digits "
        r"before the point\)",
        _(
            "The %(field)s %(amount)s is too large (at most %(most)s digits before the "
            "decimal point)."
        ),
    ),
    (
        "TransactionTypeSign",
        r"a Debit with a positive amount \((?P<amount>\S+)\); QuickBooks shows money in by the "
        r"sign of the amount",
        _(
            "A debit with a positive amount (%(amount)s): QuickBooks records money in or out "
            "by the sign of the amount."
        ),
    ),
    (
        "TransactionTypeSign",
        r"a Credit with a negative amount \((?P<amount>\S+)\); QuickBooks shows money out by the "
        r"sign of the amount",
        _(
            "A credit with a negative amount (%(amount)s): QuickBooks records money in or out "
            "by the sign of the amount."
        ),
    ),
    (
        "ClearedOnly",
        r"pending transactions cannot be pushed; push it once it has cleared",
        _("A pending transaction cannot be pushed; push it once it has cleared."),
    ),
    (
        "ClearedOnly",
        r"cleared is false; push it once it has cleared",
        _("The transaction has not cleared; push it once it has."),
    ),
    (
        "ClearedOnly",
        r"date \(the cleared-on date\) is required",
        _("The date (the day the transaction cleared) is missing."),
    ),
    (
        "ClearedOnly",
        r"date (?P<day>\S+) and clearedOnDate (?P<day_other>\S+) disagree; "
        r"send one cleared-on date",
        _("The date %(day)s and the clearedOnDate %(day_other)s disagree; send one date."),
    ),
    (
        "ClearedOnly",
        r"'(?P<value>.*)' is not a real date",
        _("%(value)s is not a real date."),
    ),
    (
        "NoFutureDates",
        r"cleared on (?P<day>\S+), after today \((?P<day_today>\S+) in the company's time zone\); "
        r"future-dated transactions cannot be pushed",
        _(
            "Cleared on %(day)s, after today (%(day_today)s in the company's time zone): "
            "a transaction dated in the future cannot be pushed."
        ),
    ),
    (
        "SevenDayBackfill",
        r"cleared on (?P<day>\S+), more than (?P<days>\d+) days back \(the earliest allowed "
        r"today is (?P<day_earliest>\S+)\)",
        _(
            "Cleared on %(day)s, more than %(days)s days back (the earliest date allowed "
            "today is %(day_earliest)s)."
        ),
    ),
    (
        "SevenDayBackfill",
        r"cleared on (?P<day>\S+), before the feed start date (?P<day_start>\S+) chosen in "
        r"QuickBooks",
        _("Cleared on %(day)s, before the feed start date chosen in QuickBooks (%(day_start)s)."),
    ),
    (
        "Chronological",
        r"cleared on (?P<day>\S+), before the item above it \((?P<day_before>\S+)\); send "
        r"transactions in ascending date order",
        _(
            "Cleared on %(day)s, before the transaction above it (%(day_before)s): send "
            "transactions from the oldest to the newest."
        ),
    ),
    (
        "Chronological",
        r"cleared on (?P<day>\S+), before the latest transaction already accepted for this "
        r"account \((?P<day_latest>\S+)\)",
        _(
            "Cleared on %(day)s, before the latest transaction already accepted for this "
            "account (%(day_latest)s)."
        ),
    ),
    (
        "RequiredFields|Amount|Balance|ClearedOnly",
        r"(?P<field>\w+) field required",
        _("The field %(field)s is missing."),
    ),
    (
        "RequiredFields|Amount|Balance|ClearedOnly",
        r"(?P<field>\w+) .+",
        _("The field %(field)s has a value of the wrong type or form."),
    ),
    (
        "AccountId",
        r"accountId must match the path",
        _("The accountId in the body does not match the account in the address."),
    ),
]
# An operation's failure message (app/transactions/service.py), not tied to a validator.
FAILURES: list[tuple[str, str]] = [
    (
        r"Not sent within (?P<minutes>\d+) minutes; none of its transactions was sent\. "
        r"Push them again\.",
        _(
            "Not sent within %(minutes)s minutes; none of its transactions was sent. "
            "Push them again."
        ),
    ),
    (
        r"The feed was disconnected in QuickBooks before these transactions were sent; none of "
        r"them was sent\.",
        _(
            "The feed was disconnected in QuickBooks before these transactions were sent; none "
            "of them was sent."
        ),
    ),
]
FIELD_NAMES = {"amount": _("amount"), "balance": _("balance")}
_COMPILED = [(set(v.split("|")), re.compile(p), m) for v, p, m in PATTERNS]
_FAILURES = [(re.compile(p), m) for p, m in FAILURES]


def _value(name: str, raw: str, language: str, gettext: Callable[[str], str]) -> str:
    if name.startswith("day"):
        try:
            return i18n.long_date(date.fromisoformat(raw), language)
        except ValueError:
            return raw
    if name == "amount":
        try:
            # At least two decimals, as money is written (more when the note is about them).
            return format_decimal(
                Decimal(raw), format="#,##0.00#####", locale=i18n.format_locale(language, "USD")
            )
        except (InvalidOperation, ValueError):
            return raw
    if name == "field":
        return gettext(FIELD_NAMES[raw]) if raw in FIELD_NAMES else raw
    return raw


def _strip_id(item: str, message: str) -> str:
    """Rules write `<itemId>: <text>`; the page shows the id beside it already."""
    prefix = f"{item}: "
    return message[len(prefix) :] if item and message.startswith(prefix) else message


def note(raw: dict[str, Any], language: str) -> Note:
    """One stored validation item ({itemId, message, validatorName}) for the page."""
    item = str(raw.get("itemId") or "")
    validator = str(raw.get("validatorName") or "")
    text = _strip_id(item, str(raw.get("message") or ""))
    gettext = i18n.translator(language)
    for validators, pattern, message in _COMPILED:
        if validator and validator not in validators:
            continue
        found = pattern.fullmatch(text)
        if found:
            values = {k: _value(k, v, language, gettext) for k, v in found.groupdict().items()}
            return Note(item, gettext(message) % values, language, validator)
    return Note(item, text, "en", validator)


def notes(items: list[dict[str, Any]] | None, language: str) -> list[Note]:
    return [note(item, language) for item in items or []]


def failure(message: str | None, language: str) -> Note | None:
    """An operation's failure message, translated when it is one of ours."""
    if not message:
        return None
    gettext = i18n.translator(language)
    for pattern, words in _FAILURES:
        found = pattern.fullmatch(message)
        if found:
            return Note("", gettext(words) % found.groupdict(), language, "")
    return Note("", message, "en", "")
