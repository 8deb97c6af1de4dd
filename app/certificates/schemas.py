"""Wire shapes of balance certificates (extension routes only) and their mappers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from app.certificates import rules
from app.certificates.tables import BalanceCertificate
from app.kit.schemas import Money, Wire


def _date_text(value: date) -> str:
    return value.isoformat()


Day = Annotated[date, PlainSerializer(_date_text, return_type=str)]


class Certificate(Wire):
    """One day's certificate (its current revision, or any revision in an export)."""

    date: Day
    revision: int
    status: str = Field(description="certified, pendingDelivery, gap or unknown.")
    opening: Money | None = None
    credits: Money
    debits: Money
    count: int
    closing: Money | None = None
    expectedClosing: Money | None = None
    firstBreak: str | None = Field(
        default=None, description="The first line whose balance disagrees (gap only)."
    )
    difference: Money | None = Field(
        default=None, description="The amount missing (positive) or extra (negative): gap only."
    )
    linesDigest: str
    chainDigest: str
    previousDigest: str
    sequence: int
    deliveredThroughUtc: datetime | None = None
    issuedOnUtc: datetime
    current: bool


class Certificates(Wire):
    results: list[Certificate]
    pageNumber: int
    pageSize: int
    totalResults: int


class CertificateLine(Wire):
    id: str
    date: Day
    description: str
    amount: Money
    balance: Money | None = None
    sentOnUtc: datetime | None = None


class CertificateDay(Certificate):
    """A day with its lines, in the order the lines digest reads them, and its revisions."""

    lines: list[CertificateLine]
    revisions: list[Certificate]


class CertificatesQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    page: int = Field(default=1, ge=1, le=2**31 - 1)
    pageSize: int = Field(default=100, ge=1, le=5000)
    # Named like the wire's (`from` is a Python keyword).
    from_: date | None = Field(default=None, alias="from", description="First day, inclusive.")
    to: date | None = Field(default=None, description="Last day, inclusive.")
    format: str | None = Field(
        default=None, description="`csv` or `json` for an auditor's export of every revision."
    )

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.pageSize


@dataclass(frozen=True, slots=True)
class DayPath:
    company_id: str
    connection_id: str
    account_id: str
    date: str


# A decimal figure, documented as a JSON number (what clients send); the reader also takes a
# decimal string, as Codat's push does.
Figure = Annotated[
    Decimal, Field(allow_inf_nan=False), WithJsonSchema({"type": "number"}, mode="validation")
]


class BalanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: date
    closingBalance: Figure
    availableBalance: Figure | None = None


class BalancesBody(BaseModel):
    """`POST …/balances` as documented; the body is read loosely (BalancesRequest) so that every
    item is judged and named on its own."""

    model_config = ConfigDict(extra="ignore", title="Give end-of-day balances")

    balances: list[BalanceIn] = Field(min_length=1, max_length=1000)


class BalancesRequest(BaseModel):
    """Read loosely: every item is judged and named on its own."""

    model_config = ConfigDict(extra="ignore")

    balances: list[Any] = Field(min_length=1, max_length=1000)


class BalanceResult(Wire):
    date: Day
    result: str = Field(description="created, replaced or unchanged.")
    closingBalance: Money
    availableBalance: Money | None = None


class BalancesResponse(Wire):
    results: list[BalanceResult]


class BalanceSettings(Wire):
    strict: bool = Field(description="Refuse a push whose line balances break the running balance.")


class BalanceSettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # true or false, never 0 or "yes"

    strict: bool


def to_wire(row: BalanceCertificate) -> Certificate:
    return Certificate(
        date=row.day,
        revision=row.revision,
        status=row.status,
        opening=row.opening,
        credits=row.credits,
        debits=row.debits,
        count=row.count,
        closing=row.closing,
        expectedClosing=row.expected_closing,
        firstBreak=row.first_break,
        difference=row.difference,
        linesDigest=row.lines_digest,
        chainDigest=row.chain_digest,
        previousDigest=row.previous_digest,
        sequence=row.seq,
        deliveredThroughUtc=row.delivered_through,
        issuedOnUtc=row.issued_at,
        current=row.is_current,
    )


STATUSES = rules.STATUSES
