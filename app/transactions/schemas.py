"""Push wire shapes: CreateBankTransactions, PushOperation, PushOption (Codat-Bank-Feeds.yaml)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any, Literal, NotRequired, get_args

import msgspec
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
)
from typing_extensions import TypedDict

from app.accounts.schemas import AccountFeedHealth
from app.kit import querying
from app.kit.schemas import CodatShape, ErrorValidationItem, Money, PageMeta, PageQuery, Wire
from app.transactions import tables

MAX_ITEMS = 1000
TransactionType = Literal[
    "Unknown",
    "Credit",
    "Debit",
    "Int",
    "Div",
    "Fee",
    "SerChg",
    "Dep",
    "Atm",
    "Pos",
    "Xfer",
    "Check",
    "Payment",
    "Cash",
    "DirectDep",
    "DirectDebit",
    "RepeatPmt",
    "Other",
]
TRANSACTION_TYPES: tuple[str, ...] = get_args(TransactionType)
_LOCAL = re.compile(
    r"^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2}(?::\d{2}(?:\.\d{1,7})?)?)(?:Z|[+-]\d{2}:?\d{2})?)?$"
)


@lru_cache(maxsize=4096)
def local_date(value: str) -> date:
    """The date as written: `2023-08-22` or `2023-08-22T10:21:00[offset]`, any offset ignored.
    Cached: a push's items mostly share a handful of dates."""
    if len(value) == 10 and value[4] == "-" and value[7] == "-":
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a real date") from exc
    match = _LOCAL.match(value.strip())
    if not match:
        raise ValueError(
            "must be a date like 2023-08-22 or a local date-time like 2023-08-22T10:21:00"
        )
    try:
        parsed = date.fromisoformat(match.group(1))
        if match.group(2):
            time.fromisoformat(match.group(2)[:15])
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a real date") from exc
    return parsed


# The shape is checked here (in pydantic-core); whether it is a real date, by the rules.
LocalDate = Annotated[
    str,
    StringConstraints(pattern=_LOCAL.pattern),
    Field(description="Cleared-on date: 2023-08-22 or 2023-08-22T10:21:00 (offsets ignored)."),
]


class BankTransactionIn(BaseModel):
    """One pushed transaction. `date` is the cleared-on date; `clearedOnDate` is its alias."""

    model_config = ConfigDict(extra="ignore", title="Bank transaction")

    id: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    date: LocalDate | None = None
    clearedOnDate: LocalDate | None = None
    description: Annotated[str, StringConstraints(min_length=1, max_length=1000)]
    amount: Annotated[Decimal, Field(allow_inf_nan=False, description="Non-zero, ≤ 2 places.")]
    balance: Annotated[Decimal, Field(allow_inf_nan=False)] | None = None
    transactionType: TransactionType | None = None
    counterparty: str | None = Field(
        default=None,
        description="Served to QuickBooks as payeeName (trimmed, ≤ 255 characters).",
    )
    reference: str | None = Field(
        default=None,
        description="Served to QuickBooks as referenceNumber (trimmed, ≤ 100 characters).",
    )
    reconciled: bool | None = Field(default=None, description="Accepted and ignored.")
    status: str | None = Field(default=None, description="If sent, must not be pending.")
    cleared: bool | None = Field(default=None, description="If sent, must be true.")


class FastItem(msgspec.Struct):
    """BankTransactionIn's fields and constraints for msgspec, which validates a push's items
    about three times faster. Only a strict subset of what the model takes passes here (exact
    types; decimals the JSON parser made; `\\Z` where pydantic's regex engine reads `$` as the
    end): anything else goes through the model, whose answer and errors stand. A unit test holds
    the two to the same results (tests/unit/test_fast_items.py)."""

    id: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    description: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]
    amount: Decimal
    date: Annotated[str, msgspec.Meta(pattern=_LOCAL.pattern[:-1] + r"\Z")] | None = None
    clearedOnDate: Annotated[str, msgspec.Meta(pattern=_LOCAL.pattern[:-1] + r"\Z")] | None = None
    balance: Decimal | None = None
    transactionType: TransactionType | None = None
    counterparty: str | None = None
    reference: str | None = None
    reconciled: bool | None = None
    status: str | None = None
    cleared: bool | None = None


def _exact_number(value: Any) -> bool:
    """A JSON number as the parser made it (msgspec would also take a string for a decimal)."""
    return type(value) is Decimal or type(value) is int


def fast_items(raw_items: Sequence[Any]) -> list[FastItem] | None:
    """The items validated by msgspec, or None: then the model decides (and says why)."""
    try:
        items = msgspec.convert(raw_items, list[FastItem], strict=True)
    except (msgspec.ValidationError, TypeError, ValueError):
        return None
    for raw in raw_items:
        balance = raw.get("balance")
        if not _exact_number(raw["amount"]) or not (balance is None or _exact_number(balance)):
            return None
    return items


class CreateBankTransactions(BaseModel):
    model_config = ConfigDict(extra="ignore", title="Create bank transactions")

    accountId: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    transactions: Annotated[list[BankTransactionIn], Field(min_length=1, max_length=MAX_ITEMS)]


class PushQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    timeoutInMinutes: int | None = Field(
        default=None, ge=1, le=10080, description="Give up (TimedOut) if not sent by then."
    )
    allowSyncOnPushComplete: bool = Field(default=True, description="Accepted and ignored.")


class PushChangeRef(Wire):
    id: str
    dataType: str | None = "bankTransactions"


class PushChange(Wire):
    type: Literal["Unknown", "Created", "Modified", "Deleted", "AttachmentUploaded"]
    recordRef: PushChangeRef
    attachmentId: str | None = None


class PushValidation(Wire):
    errors: list[ErrorValidationItem] | None = None
    warnings: list[ErrorValidationItem] | None = None


class PushOperation(CodatShape):
    EXTENSIONS = {"deliveredOnUtc": "deliveredOnUtc"}  # `Bankfeeds-Include: deliveredOnUtc`

    changes: list[PushChange] | None = None
    dataType: Literal["bankTransactions"] = "bankTransactions"
    companyId: str
    pushOperationKey: str
    dataConnectionKey: str
    requestedOnUtc: datetime
    completedOnUtc: datetime | None = Field(default=None, exclude_if=lambda v: v is None)
    timeoutInMinutes: int | None = None
    status: Literal["Pending", "Failed", "Success", "TimedOut"]
    errorMessage: str | None = None
    validation: PushValidation
    statusCode: int
    deliveredOnUtc: datetime | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="Extension, with `Bankfeeds-Include: deliveredOnUtc` only: when QuickBooks "
        "had fetched every transaction of the push.",
    )


class BankTransactionEcho(TypedDict):
    """One accepted transaction as the push answer echoes it. A TypedDict, not a model: the
    answer carries up to 1000 of them, and plain dicts serialize without a Python object each."""

    id: str
    date: str
    description: str
    amount: Money
    balance: NotRequired[Money]
    transactionType: NotRequired[str]


class PushedData(Wire):
    accountId: str
    transactions: list[BankTransactionEcho]


class CreateBankTransactionsResponse(PushOperation):
    data: PushedData


# Decimals as JSON numbers written from their exact text (never through a float).
_ENCODER = msgspec.json.Encoder(decimal_format="number")


def encode_push_answer(answer: CreateBankTransactionsResponse) -> bytes:
    """The push answer as JSON: the operation through its model (Codat's shape, the opt-in
    extensions), the echo of up to 1000 items by msgspec (about ten times faster than the
    model's serializer calling a Python function for each amount)."""
    head = answer.model_dump(mode="json", by_alias=True, exclude={"data"})
    head["data"] = {
        "accountId": answer.data.accountId,
        "transactions": answer.data.transactions,
    }
    return _ENCODER.encode(head)


class PushOperations(PageMeta):
    results: list[PushOperation]


class PushOperationsQuery(PageQuery):
    query: str | None = Field(
        default=None,
        description="Codat query string over status, dataConnectionKey, pushOperationKey, "
        "requestedOnUtc and completedOnUtc.",
        json_schema_extra={
            "pattern": querying.pattern(
                "status", "dataConnectionKey|pushOperationKey", "requestedOnUtc|completedOnUtc"
            )
        },
    )
    orderBy: (
        Literal["requestedOnUtc", "-requestedOnUtc", "completedOnUtc", "-completedOnUtc"] | None
    ) = Field(default=None, description="Default -requestedOnUtc (newest first).")


class PushFieldValidation(Wire):
    field: str
    details: str


class PushValidationInfo(Wire):
    warnings: list[PushFieldValidation] | None = None
    information: list[PushFieldValidation] | None = None


OptionType = Literal[
    "Array", "Object", "String", "Number", "Boolean", "DateTime", "File", "MultiPart"
]


class PushOptionChoice(Wire):
    value: str
    type: OptionType = "String"
    displayName: str
    description: str
    required: bool = False


class PushOptionProperty(Wire):
    type: OptionType
    displayName: str
    description: str
    required: bool
    properties: dict[str, PushOptionProperty] | None = None
    options: list[PushOptionChoice] | None = None
    validation: PushValidationInfo | None = Field(default=None, exclude_if=lambda v: v is None)


class PushOption(PushOptionProperty):
    pass


DeliveryState = Literal["pending", "sent", "delivered"]


def delivery_state(sent_at: datetime | None, delivered_at: datetime | None) -> DeliveryState:
    """pending until sent; sent until an IDX answer carried it; then delivered."""
    if sent_at is None:
        return "pending"
    return "delivered" if delivered_at is not None else "sent"


class TransactionsQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    page: int = Field(default=1, ge=1, le=2**31 - 1)
    pageSize: int = Field(default=100, ge=1, le=5000)
    status: DeliveryState | None = Field(
        default=None,
        description="Only pending, sent (published, not yet fetched) or delivered transactions.",
    )

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.pageSize


def _date_text(value: date) -> str:
    return value.isoformat()


class AccountTransaction(Wire):
    """Extension: a stored transaction and where it is on its way to QuickBooks."""

    id: str
    date: Annotated[date, PlainSerializer(_date_text, return_type=str)]
    description: str
    amount: Money
    balance: Money | None = None
    transactionType: str | None = None
    counterparty: str | None = Field(default=None, description="As served: IDX payeeName.")
    reference: str | None = Field(default=None, description="As served: IDX referenceNumber.")
    status: DeliveryState
    acceptedOnUtc: datetime
    sentOnUtc: datetime | None = None
    deliveredOnUtc: datetime | None = Field(
        default=None, description="When an IDX answer first carried it (since it was sent)."
    )
    pushOperationKey: str | None = None


class AccountTransactions(Wire):
    results: list[AccountTransaction]
    pageNumber: int
    pageSize: int
    totalResults: int
    feedHealth: AccountFeedHealth = Field(
        description="The account's feed health (as …/feedHealth lists it)."
    )


def to_wire(op: tables.PushOperation) -> PushOperation:
    warnings = [ErrorValidationItem.model_validate(w) for w in op.warnings or []]
    changes = None
    if op.status == "Success":
        changes = [PushChange(type="Created", recordRef=PushChangeRef(id=op.account_id))]
    return PushOperation(
        changes=changes,
        companyId=str(op.company_id),
        pushOperationKey=str(op.key),
        dataConnectionKey=str(op.connection_id),
        requestedOnUtc=op.requested_at,
        completedOnUtc=op.completed_at,
        timeoutInMinutes=op.timeout_minutes,
        status=op.status,
        errorMessage=op.error_message,
        validation=PushValidation(errors=[], warnings=warnings),
        statusCode=op.status_code,
        deliveredOnUtc=op.delivered_at,
    )
