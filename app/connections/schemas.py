"""Connection wire shapes, as Codat's Connection and its create / unlink bodies, and the
mapper of a stored connection to its wire shape (with its Link URL)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema

from app.config import Settings
from app.connections import tables
from app.kit.schemas import PageMeta, Wire

PLATFORM_KEY = "hcws"
PLATFORM_NAME = "QuickBooks Online Bank Feeds"
# Stable identifiers for the one integration we serve (Codat returns such ids per platform).
INTEGRATION_ID = "6a9a2b1e-3c55-4f0e-9d0a-5b2f3f1c8a11"
SOURCE_ID = "1d6f8c7e-2b4a-4e39-8f55-0c9b7a6d3e21"

ConnectionStatus = Literal["PendingAuth", "Linked", "Unlinked", "Deauthorized"]
SourceType = Literal["Accounting", "Banking", "BankFeed", "Commerce", "Expense", "Other", "Unknown"]


class CreateConnection(BaseModel):
    model_config = ConfigDict(extra="ignore", title="Create connection request")

    platformKey: Annotated[
        str,
        StringConstraints(min_length=4, max_length=4, pattern=r"^[a-z]{4}$"),
        Field(
            description="hcws: QuickBooks Online Bank Feeds, the only platform served here.",
            json_schema_extra={"enum": ["hcws"]},
        ),
    ]


class UpdateConnection(BaseModel):
    model_config = ConfigDict(extra="forbid", title="Update connection")

    status: (
        Annotated[
            ConnectionStatus,
            WithJsonSchema({"type": "string", "enum": ["Unlinked"]}, mode="validation"),
        ]
        | None
    ) = Field(default=None, description="Only Unlinked may be set by a client.")


class DataConnectionError(Wire):
    statusCode: str | None = None
    statusText: str | None = None
    errorMessage: str | None = None
    erroredOnUtc: datetime | None = None


class Connection(Wire):
    model_config = ConfigDict(extra="forbid")

    id: str
    integrationId: str
    integrationKey: str
    sourceId: str
    sourceType: SourceType
    platformName: str
    linkUrl: str
    status: ConnectionStatus
    lastSync: datetime | None = None
    created: datetime
    dataConnectionErrors: list[DataConnectionError] | None = None
    connectionInfo: dict[str, Any] | None = None


class Connections(PageMeta):
    results: list[Connection]


class GenerateOtpResponse(Wire):
    model_config = ConfigDict(extra="forbid", title="OTP response")

    otp: str
    expiry: datetime


def link_url(settings: Settings, connection: tables.Connection, otp: str | None) -> str:
    """Where the connection's Link page lives (with a single-use password, when given)."""
    base = settings.public_base_url.rstrip("/")
    url = f"{base}/companies/{connection.company_id}/connections/{connection.id}/start"
    return f"{url}?otp={quote(otp)}" if otp else url


def to_wire(connection: tables.Connection, url: str) -> Connection:
    return Connection(
        id=str(connection.id),
        integrationId=INTEGRATION_ID,
        integrationKey=connection.platform_key,
        sourceId=SOURCE_ID,
        sourceType="BankFeed",
        platformName=PLATFORM_NAME,
        linkUrl=url,
        status=connection.status,
        lastSync=connection.last_sync,
        created=connection.created_at,
    )
