"""Source-account wire shapes: Codat's v1 (`SourceAccount`) and v2 (`SourceAccountV2`).

A create body is read as v2 when it carries a v2-only field (`routingInfo`, `accountInfo`) or a
v2 account type (checking, savings, loan, creditCard, prepaidCard), else as v1; the account then
answers in the shape it was created in.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    GetJsonSchemaHandler,
    StringConstraints,
    Tag,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from app import vault
from app.accounts import tables
from app.kit.schemas import (
    WS,
    CodatShape,
    Money,
    Wire,
    WireDate,
    WireDateOrDateTime,
    WireDateTime,
)

V2_ACCOUNT_TYPES = ("checking", "savings", "loan", "creditCard", "prepaidCard")
CURRENCIES = ("USD", "CAD")
AccountStatus = Literal["pending", "connected", "connecting", "disconnected", "unknown"]
FeedHealth = Literal["healthy", "stale", "disconnected"]
RoutingType = Literal[
    "rtn",
    "aba",
    "swift",
    "bsb",
    "iban",
    "nz2",
    "trno",
    "sortcode",
    "blz",
    "ifsc",
    "bankcode",
    "apca",
    "clabe",
]


def _us_or_canada(value: str) -> str:
    if value not in CURRENCIES:
        raise ValueError(
            f"currency {value!r} is not supported: QuickBooks Online bank feeds serve "
            "US and Canadian businesses, so accounts must be USD or CAD"
        )
    return value


ACCOUNT_ID = f"^[^{WS}\\x00/?#%\\\\]+$"
AccountId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=100, pattern=ACCOUNT_ID),
    Field(description="Your unique id for the account (no spaces or / ? # % \\; ≤ 100)."),
]
Currency = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{3}$"),
    AfterValidator(_us_or_canada),
    Field(
        description="ISO 4217 code; USD or CAD only.", json_schema_extra={"enum": list(CURRENCIES)}
    ),
]
Name = Annotated[str, StringConstraints(max_length=255)]
AccountNumber = Annotated[str, StringConstraints(max_length=64)]
SortCode = Annotated[str, StringConstraints(max_length=32)]
V1AccountType = Annotated[str, StringConstraints(max_length=32)]
V2AccountType = Literal["checking", "savings", "loan", "creditCard", "prepaidCard"]


class RoutingInfo(Wire):
    model_config = ConfigDict(title="Routing Info", extra="ignore")

    bankCode: Annotated[str, StringConstraints(max_length=64)] | None = None
    type: RoutingType | None = "bankcode"


class AccountInfo(Wire):
    model_config = ConfigDict(title="Account Info", extra="ignore")

    description: Annotated[str, StringConstraints(max_length=1000)] | None = None
    nickname: Name | None = None
    accountOpenDate: WireDate | None = None
    availableBalance: Money | None = None


class SourceAccountPrototype(BaseModel):
    """Create body, v1."""

    model_config = ConfigDict(title="Source account (v1)", extra="ignore")

    id: AccountId
    accountName: Name | None = None
    accountType: V1AccountType | None = None
    accountNumber: AccountNumber | None = None
    sortCode: SortCode | None = None
    currency: Currency
    balance: Money | None = None
    modifiedDate: WireDateTime | None = None


class SourceAccountV2Prototype(BaseModel):
    """Create body, v2."""

    model_config = ConfigDict(title="Source account (v2)", extra="ignore")

    id: AccountId
    accountName: Name
    accountType: V2AccountType
    accountNumber: AccountNumber
    routingInfo: RoutingInfo | None = None
    sortCode: SortCode | None = None
    currency: Currency
    balance: Money
    modifiedDate: WireDateTime | None = None
    accountInfo: AccountInfo | None = None


def _version(value: Any) -> str:
    if isinstance(value, dict) and (
        "routingInfo" in value
        or "accountInfo" in value
        or value.get("accountType") in V2_ACCOUNT_TYPES
    ):
        return "v2"
    return "v1"


class _AsValidated:
    """The union's schema as _version reads a body: v2 whenever a v2 marker is present, else v1
    (a oneOf would call a body that fits both shapes invalid; we accept it, as v2)."""

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        out = handler(schema)
        v2, v1 = out.pop("oneOf")
        markers = [
            {"required": ["routingInfo"]},
            {"required": ["accountInfo"]},
            {
                "required": ["accountType"],
                "properties": {"accountType": {"enum": list(V2_ACCOUNT_TYPES)}},
            },
        ]
        out["anyOf"] = [v2, {"allOf": [v1, {"not": {"anyOf": markers}}]}]
        return out


AnyPrototype = Annotated[
    Annotated[SourceAccountV2Prototype, Tag("v2")] | Annotated[SourceAccountPrototype, Tag("v1")],
    Discriminator(_version),
    _AsValidated,
]
BatchBody = Annotated[list[AnyPrototype], Field(min_length=1, max_length=500)]


# Feed health inline only on the opt-in (SPEC §5); …/feedHealth always has it.
_FEED_HEALTH = {"lastPulledOnUtc": "feedHealth", "feedHealth": "feedHealth"}


class SourceAccount(CodatShape):
    """Source account (v1), as listed and returned."""

    model_config = ConfigDict(title="Source account (v1)", extra="forbid")
    EXTENSIONS = _FEED_HEALTH

    id: str
    accountName: str | None = None
    accountType: str | None = None
    accountNumber: str | None = None
    sortCode: str | None = None
    currency: str
    balance: Money | None = None
    modifiedDate: datetime | None = None
    status: AccountStatus | None = None
    feedStartDate: datetime | None = None
    lastPulledOnUtc: datetime | None = Field(
        default=None,
        description="Extension, with `Bankfeeds-Include: feedHealth` only: when QuickBooks last "
        "asked for this account's transactions.",
    )
    feedHealth: FeedHealth | None = Field(
        default=None,
        description="Extension, with `Bankfeeds-Include: feedHealth` only: healthy, stale (not "
        "pulled for BANKFEEDS_STALE_AFTER_HOURS) or disconnected; null until QuickBooks first "
        "pulls.",
    )


class SourceAccountV2(CodatShape):
    model_config = ConfigDict(title="Source account (v2)", extra="forbid")
    EXTENSIONS = _FEED_HEALTH

    id: str
    accountName: str
    accountType: str
    accountNumber: str
    sortCode: str | None = None
    routingInfo: RoutingInfo | None = Field(default=None, exclude_if=lambda v: v is None)
    currency: str
    balance: Money
    accountInfo: AccountInfo | None = None
    modifiedDate: datetime | None = None
    status: AccountStatus | None = None
    feedStartDate: date | None = None
    lastPulledOnUtc: datetime | None = Field(
        default=None,
        description="Extension, with `Bankfeeds-Include: feedHealth` only: when QuickBooks last "
        "asked for this account's transactions.",
    )
    feedHealth: FeedHealth | None = Field(
        default=None,
        description="Extension, with `Bankfeeds-Include: feedHealth` only: healthy, stale (not "
        "pulled for BANKFEEDS_STALE_AFTER_HOURS) or disconnected; null until QuickBooks first "
        "pulls.",
    )


AnySourceAccount = SourceAccountV2 | SourceAccount


class SourceAccountUpdate(BaseModel):
    """PATCH body: a whole account may be sent back, but only accountName, status (to
    `disconnected`) and balance (while not connected) may differ from what is stored."""

    model_config = ConfigDict(title="Update source account", extra="forbid")

    id: str | None = None
    accountName: Name | None = None
    accountType: str | None = None
    accountNumber: str | None = None
    sortCode: str | None = None
    routingInfo: RoutingInfo | None = None
    accountInfo: AccountInfo | None = None
    currency: str | None = None
    balance: Money | None = None
    modifiedDate: WireDateTime | None = None
    status: AccountStatus | None = None
    feedStartDate: WireDateOrDateTime | None = None
    # Read-only extensions an account answer carries: accepted back unchanged, and ignored.
    lastPulledOnUtc: WireDateTime | None = None
    feedHealth: FeedHealth | None = None


class BatchCreatedResult(Wire):
    statusCode: int
    error: str | None = None
    account: AnySourceAccount


class BatchCreated(Wire):
    model_config = ConfigDict(title="Batch source account creation response")

    sourceAccountId: str
    result: BatchCreatedResult


class BatchErrorResult(Wire):
    statusCode: str = Field(description="The error status, as a string (Codat's shape).")
    error: str


class BatchError(Wire):
    model_config = ConfigDict(title="Batch source account creation error")

    sourceAccountId: str
    result: BatchErrorResult


BatchItem = BatchCreated | BatchError


class AccountFeedHealth(Wire):
    """Extension: how QuickBooks' pulls of one source account are going. Kept out of Codat's
    source-account shapes, which allow no additional properties."""

    model_config = ConfigDict(title="Source account feed health")

    id: str = Field(description="The source account's id.")
    status: AccountStatus
    feedHealth: FeedHealth | None = Field(
        description="healthy; stale when QuickBooks has not pulled it for "
        "BANKFEEDS_STALE_AFTER_HOURS; disconnected. Null until QuickBooks first pulls it."
    )
    lastPulledOnUtc: datetime | None = Field(
        description="When QuickBooks last asked for its transactions."
    )
    staleSinceUtc: datetime | None = Field(description="When the feed was found stale.")


class FeedHealthList(Wire):
    model_config = ConfigDict(title="Connection feed health")

    results: list[AccountFeedHealth]
    accountsWithBalanceGap: int = Field(
        default=0,
        description="How many of the accounts have a day whose balance certificate is a gap "
        "(see balanceCertificates).",
    )


# ---- mappers: the stored account on the wire ----------------------------------------------


def feed_health(account: tables.SourceAccount) -> FeedHealth | None:
    """healthy, stale (as the hourly feed-health run found it) or disconnected; None while
    QuickBooks has never asked for the account's transactions."""
    if account.status == "disconnected":
        return "disconnected"
    if account.last_queried_at is None:
        return None
    return "stale" if account.stale_since is not None else "healthy"


def to_health_wire(account: tables.SourceAccount) -> AccountFeedHealth:
    return AccountFeedHealth(
        id=account.account_id,
        status=account.status,
        feedHealth=feed_health(account),
        lastPulledOnUtc=account.last_queried_at,
        staleSinceUtc=account.stale_since if account.status == "connected" else None,
    )


def _v2_type(account: tables.SourceAccount) -> str:
    """A v1 account listed beside v2 ones: Codat's v1 "Credit" is a card, anything else a
    deposit account, so the v2 enum (which generated clients check) always holds."""
    if account.version == 2:
        return account.account_type or ""
    return "creditCard" if (account.account_type or "").lower() == "credit" else "checking"


def to_wire(account: tables.SourceAccount, *, as_v2: bool = False) -> AnySourceAccount:
    """The account in the shape it was created in, or in v2 when `as_v2` (a list holding any
    v2 account answers every account in v2: SPEC §4, one shape per list)."""
    if account.version == 2 or as_v2:
        return SourceAccountV2(
            id=account.account_id,
            accountName=account.account_name or "",
            accountType=_v2_type(account),
            accountNumber=vault.reveal(account.account_number) or "",
            sortCode=account.sort_code,
            routingInfo=account.routing_info,
            currency=account.currency,
            balance=account.balance if account.balance is not None else 0,
            accountInfo=account.account_info,
            modifiedDate=account.modified_date,
            status=account.status,
            feedStartDate=account.feed_start_date,
            lastPulledOnUtc=account.last_queried_at,
            feedHealth=feed_health(account),
        )
    start = account.feed_start_date
    return SourceAccount(
        id=account.account_id,
        accountName=account.account_name,
        accountType=account.account_type,
        accountNumber=vault.reveal(account.account_number),
        sortCode=account.sort_code,
        currency=account.currency,
        balance=account.balance,
        modifiedDate=account.modified_date,
        status=account.status,
        feedStartDate=datetime.combine(start, time(), UTC) if start else None,
        lastPulledOnUtc=account.last_queried_at,
        feedHealth=feed_health(account),
    )
