"""Wire shapes of the pendings extension (`…/pendingTransactions`, `…/pendingLinks`,
`/settings/pendingTransactions`) and of reversal lines. None of them is a Codat shape."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.kit.schemas import Money, Wire
from app.pendings.tables import PendingLink, PendingTransaction

MAX_ITEMS = 1000
Status = Literal["held", "posted", "released", "expired"]
Day = date  # a field named `date` below would shadow the type
Text100 = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class PendingIn(BaseModel):
    """One hold as the client sends it."""

    model_config = ConfigDict(extra="ignore", title="Pending transaction")

    id: Text100
    authorizedDate: date
    amount: Annotated[Decimal, Field(allow_inf_nan=False, description="Non-zero, ≤ 2 places.")]
    description: Annotated[str, StringConstraints(min_length=1, max_length=1000)]
    counterparty: Annotated[str, StringConstraints(max_length=255)] | None = None
    reference: Annotated[str, StringConstraints(max_length=255)] | None = None
    expiresOn: date | None = None


class PendingBody(BaseModel):
    """`POST …/pendingTransactions`: the items are judged one by one."""

    model_config = ConfigDict(extra="ignore", title="Create pending transactions")

    accountId: Text100
    transactions: Annotated[list[PendingIn], Field(min_length=1, max_length=MAX_ITEMS)]


class PendingEnvelope(BaseModel):
    """The body read loosely, so that every item is answered by its own id."""

    model_config = ConfigDict(extra="ignore")

    accountId: Text100
    transactions: Annotated[list[Any], Field(min_length=1, max_length=MAX_ITEMS)]


class LinkOut(Wire):
    pendingTransactionId: str
    transactionId: str
    state: Literal["linked", "waiting"]
    matchedBy: str
    partialCapture: bool
    clearedAmount: Money
    amountDelta: Money | None = None
    pushOperationKey: str | None = None
    linkedOnUtc: datetime | None = None


class SuggestionOut(Wire):
    transactionId: str
    reason: str


class Revision(Wire):
    amount: Money
    description: str
    replacedOnUtc: datetime


class PendingOut(Wire):
    id: str
    accountId: str
    authorizedDate: date
    amount: Money
    description: str
    counterparty: str | None = None
    reference: str | None = None
    expiresOn: date | None = None
    status: Status
    releaseReason: str | None = None
    createdOnUtc: datetime
    modifiedOnUtc: datetime
    endedOnUtc: datetime | None = None
    history: list[Revision] = []
    links: list[LinkOut] = []
    suggestions: list[SuggestionOut] = []


class ItemError(Wire):
    message: str
    validatorName: str


class ItemResult(Wire):
    statusCode: int
    pendingTransaction: PendingOut | None = None
    errors: list[ItemError] = []


class PendingItem(Wire):
    """One item's answer: 201 created, 200 updated (a re-posted hold), 400 or 409 refused."""

    id: str
    result: ItemResult


class PendingPage(Wire):
    results: list[PendingOut]
    pageNumber: int
    pageSize: int
    totalResults: int


class PendingQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    page: int = Field(default=1, ge=1, le=2**31 - 1)
    pageSize: int = Field(default=100, ge=1, le=5000)
    status: Status | None = Field(default=None, description="Only pendings in this state.")

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.pageSize


class ReleaseBody(BaseModel):
    model_config = ConfigDict(extra="forbid", title="Release a pending transaction")

    reason: Literal["reversed", "declined", "voided"]


class LinksQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    pushOperationKey: str | None = Field(
        default=None,
        description="The push operation whose links to list; without it, the account's latest.",
    )


class Links(Wire):
    results: list[LinkOut]


class MatchingSettings(Wire):
    pendingMatching: Literal["explicit", "auto"]


class ReversalBody(BaseModel):
    model_config = ConfigDict(extra="forbid", title="Reverse a published transaction")

    id: Text100 | None = None
    date: Day | None = None
    description: Annotated[str, StringConstraints(min_length=1, max_length=1000)] | None = None


class ReversalOut(Wire):
    reversedTransactionId: str
    id: str
    date: Day
    description: str
    amount: Money
    pushOperationKey: str
    status: str


def link_wire(link: PendingLink) -> LinkOut:
    return LinkOut(
        pendingTransactionId=link.pending_id,
        transactionId=link.transaction_id,
        state=link.state,
        matchedBy=link.matched_by,
        partialCapture=link.partial,
        clearedAmount=link.cleared_amount,
        amountDelta=link.amount_delta,
        pushOperationKey=str(link.push_operation_key) if link.push_operation_key else None,
        linkedOnUtc=link.linked_at,
    )


def to_wire(
    row: PendingTransaction,
    account_id: str,
    links: list[PendingLink] | None = None,
    suggestions: list[SuggestionOut] | None = None,
) -> PendingOut:
    return PendingOut(
        id=row.pending_id,
        accountId=account_id,
        authorizedDate=row.authorized_on,
        amount=row.amount,
        description=row.description,
        counterparty=row.counterparty,
        reference=row.reference,
        expiresOn=row.expires_on,
        status=row.status,
        releaseReason=row.release_reason,
        createdOnUtc=row.created_at,
        modifiedOnUtc=row.updated_at,
        endedOnUtc=row.ended_at,
        history=[Revision.model_validate(h) for h in row.history or []],
        links=[link_wire(link) for link in links or []],
        suggestions=suggestions or [],
    )
