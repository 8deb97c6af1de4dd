"""Feed-health wire shapes (extensions): pulls QuickBooks made, and re-serves support asked for."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.kit.schemas import Wire


class Pull(Wire):
    """One IDX transactions answer, as the pull log keeps it."""

    model_config = ConfigDict(title="Feed pull")

    pulledOnUtc: datetime
    startDate: datetime | None = Field(
        description="modifiedDate from (inclusive): the date asked, read Anywhere on Earth."
    )
    endDate: datetime | None = Field(
        description="modifiedDate until (exclusive): the date asked, read Anywhere on Earth."
    )
    pageNumber: int
    pageSize: int
    rows: int = Field(description="Transactions this answer carried.")
    totalResults: int
    statusCode: int
    lagSeconds: int | None = Field(description="Seconds since the account's previous pull.")


class Pulls(Wire):
    model_config = ConfigDict(title="Feed pulls")

    results: list[Pull]


class PullsQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    pageSize: int = Field(default=20, ge=1, le=200, description="How many of the last pulls.")


class ReserveRequest(BaseModel):
    """Re-publish the account's sent transactions cleared in [fromDate, toDate]."""

    model_config = ConfigDict(title="Re-serve transactions", extra="forbid")

    fromDate: date = Field(description="First cleared date (inclusive).")
    toDate: date = Field(description="Last cleared date (inclusive).")
    requestedBy: Annotated[str, StringConstraints(max_length=100)] | None = Field(
        default=None, description="Who in your team asks (kept in the audit)."
    )
    dryRun: bool = Field(
        default=False, description="Only count what would be re-published; change nothing."
    )


class Reserve(Wire):
    model_config = ConfigDict(title="Re-serve record")

    id: str | None = Field(description="The audit record's id (null for a dry run).")
    accountId: str
    fromDate: date
    toDate: date
    rows: int = Field(description="Transactions re-published (or that would be, dry run).")
    requestedBy: str
    requestedOnUtc: datetime
    dryRun: bool
