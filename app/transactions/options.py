"""The push-option model: what a push to this account needs and which rules it must meet."""

from __future__ import annotations

from datetime import date, timedelta

from app.accounts.tables import SourceAccount
from app.transactions import rules
from app.transactions.schemas import (
    MAX_ITEMS,
    TRANSACTION_TYPES,
    PushFieldValidation,
    PushOption,
    PushOptionChoice,
    PushOptionProperty,
    PushValidationInfo,
)


def _field(kind: str, name: str, description: str, required: bool) -> PushOptionProperty:
    return PushOptionProperty(
        type=kind, displayName=name, description=description, required=required
    )


def build(account: SourceAccount, today: date) -> PushOption:
    earliest = today - timedelta(days=rules.BACKFILL_DAYS)
    if account.feed_start_date and account.feed_start_date > earliest:
        earliest = account.feed_start_date
    if account.latest_cleared_on and account.latest_cleared_on > earliest:
        earliest = account.latest_cleared_on
    latest = f" ({account.latest_cleared_on})" if account.latest_cleared_on else ""
    info = [
        PushFieldValidation(
            field="accountId",
            details=(f"The account must be connected in QuickBooks; it is {account.status}."),
        ),
        PushFieldValidation(
            field="transactions",
            details=(
                f"1 to {MAX_ITEMS} transactions; every id unique for the account, "
                "across all pushes."
            ),
        ),
        PushFieldValidation(
            field="transactions.date",
            details=(
                "Cleared transactions only: date is the cleared-on date (clearedOnDate is accepted "
                "as its alias; if both are sent they must agree); pending ones are rejected."
            ),
        ),
        PushFieldValidation(
            field="transactions.date",
            details=(f"No future dates: on or before today ({today}, in the company's time zone)."),
        ),
        PushFieldValidation(
            field="transactions.date",
            details=(
                f"Seven-day backfill: on or after the feed start date and at most "
                f"{rules.BACKFILL_DAYS} days back; for this account today, on or after {earliest}."
            ),
        ),
        PushFieldValidation(
            field="transactions.date",
            details=(
                "Chronological: items in ascending date order, none before the latest transaction "
                f"already accepted{latest}."
            ),
        ),
        PushFieldValidation(
            field="transactions.amount",
            details=(
                "A decimal with at most 2 places, not zero, at most 13 digits before the point."
            ),
        ),
        PushFieldValidation(
            field="transactions.balance",
            details=(
                "Optional; the last item's balance becomes the account's balance, which "
                "QuickBooks sees once that item is sent."
            ),
        ),
    ]
    warnings = [
        PushFieldValidation(
            field="transactions.transactionType",
            details=(
                "A Debit with a positive amount, or a Credit with a negative one, is accepted "
                "with a warning: QuickBooks goes by the sign of the amount."
            ),
        )
    ]
    item = {
        "id": _field(
            "String", "Id", "Your unique id for the transaction (≤ 100 characters).", True
        ),
        "date": _field("DateTime", "Cleared on", "The date the transaction cleared.", True),
        "description": _field("String", "Description", "Shown in QuickBooks (≤ 1000).", True),
        "amount": _field("Number", "Amount", "Positive: money in; negative: money out.", True),
        "balance": _field("Number", "Balance", "The account's balance after this item.", False),
        "transactionType": _field("String", "Transaction type", "Credit, Debit or Unknown.", False),
        "counterparty": _field(
            "String",
            "Counterparty",
            f"Served to QuickBooks as the payee (payeeName), trimmed, ≤ {rules.PAYEE_MAX}.",
            False,
        ),
        "reference": _field(
            "String",
            "Reference",
            f"Served to QuickBooks as referenceNumber, trimmed, ≤ {rules.REFERENCE_MAX}.",
            False,
        ),
        "reconciled": _field("Boolean", "Reconciled", "Accepted and ignored.", False),
    }
    item["transactionType"].options = [
        PushOptionChoice(value=t, displayName=t, description=f"{t} transaction")
        for t in TRANSACTION_TYPES
    ]
    transactions = _field("Array", "Transactions", "The cleared transactions to push.", True)
    transactions.properties = item
    return PushOption(
        type="Object",
        displayName="Bank Account Transactions",
        description="Cleared bank transactions for a QuickBooks Online bank feed.",
        required=True,
        properties={
            "accountId": _field("String", "Account id", "The source account's id.", True),
            "transactions": transactions,
        },
        validation=PushValidationInfo(warnings=warnings, information=info),
    )
