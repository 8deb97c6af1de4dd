"""Connection wire shapes, as Codat's Connection and its create / unlink bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema

from app.schemas import PageMeta, Wire

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
