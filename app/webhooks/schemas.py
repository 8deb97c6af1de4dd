"""Webhook wire shapes: endpoints and deliveries (our extension), and Codat's event envelope."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, StringConstraints

from app.kit.schemas import Wire

EventType = Literal[
    "bankFeeds.sourceAccount.connected",
    "bankFeeds.sourceAccount.disconnected",
    "bankFeeds.sourceAccount.stale",
    "bankFeeds.sourceAccount.fresh",
    "bankFeeds.sourceAccount.balanceGap",
    "bankFeeds.sourceAccount.balanceCertified",
    "connection.connected",
    "connection.disconnected",
    "bankTransactions.write.successful",
    "bankTransactions.write.unsuccessful",
    "bankTransactions.pending.posted",
    "bankTransactions.pending.expired",
    "bankTransactions.pending.matchSuggested",
    "bankTransactions.reversed",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)


class CreateEndpoint(BaseModel):
    model_config = ConfigDict(extra="forbid", title="Create webhook endpoint")

    url: AnyHttpUrl = Field(description="Where events are POSTed (http or https).")
    description: Annotated[str, StringConstraints(max_length=500)] | None = None
    eventTypes: list[EventType] = Field(
        default_factory=list, description="Events to send; empty means all of them."
    )


class Endpoint(Wire):
    id: str
    url: str
    description: str | None = None
    eventTypes: list[str]
    createdOnUtc: datetime
    status: Literal["active", "paused"] = Field(
        description="paused: every attempt has failed for hours (BANKFEEDS_WEBHOOK_PAUSE_AFTER_"
        "HOURS), so deliveries wait until pausedUntilUtc; then one attempt probes the endpoint "
        "and a success resumes it."
    )
    failingSinceUtc: datetime | None = Field(
        default=None, description="Start of the current run of failed attempts, if any."
    )
    pausedUntilUtc: datetime | None = None


class CreatedEndpoint(Endpoint):
    secret: str = Field(description="Standard Webhooks signing secret (whsec_…), shown only here.")


class Endpoints(Wire):
    results: list[Endpoint]


AttemptError = Literal["timeout", "refused", "status", "blocked", "unresolved", "unsigned"]


class Attempt(Wire):
    attemptedOnUtc: datetime
    statusCode: int | None = None
    error: AttemptError | None = Field(
        default=None,
        description="Why the attempt failed: timeout (no answer within the deadline), refused "
        "(the connection failed), status (the answer was not 2xx: see statusCode), blocked (the "
        "address is not public), unresolved (the name did not resolve), unsigned (we could not "
        "read the endpoint's signing secret: nothing was sent).",
    )
    durationMs: int | None = Field(
        default=None, description="How long the receiver took, when it answered."
    )


class Delivery(Wire):
    id: str
    eventId: str
    eventType: str
    status: Literal["pending", "succeeded", "failed"]
    attempts: list[Attempt]
    nextAttemptOnUtc: datetime | None = None
    createdOnUtc: datetime
    completedOnUtc: datetime | None = None


class Deliveries(Wire):
    results: list[Delivery]
    pageNumber: int
    pageSize: int
    totalResults: int


class Envelope(Wire):
    """Codat's webhook body: id, eventType, generatedDate, payload."""

    id: str
    eventType: str
    generatedDate: datetime
    payload: dict[str, Any]
