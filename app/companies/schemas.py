"""Company wire shapes (Codat's Company, CompanyRequestBody, CompanyUpdateRequest)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from app.connections.schemas import Connection
from app.schemas import WS, PageMeta, Wire

# Codat's name pattern (^[A-Za-z0-9\s\-',&@.,?!\s]+$) with its white space spelled out, and at
# least one character that is not white space.
_NAME_CHAR = r"A-Za-z0-9\-',&@.?!"
NAME_PATTERN = f"^[{_NAME_CHAR}{WS}]*[{_NAME_CHAR}][{_NAME_CHAR}{WS}]*$"
ZONES = frozenset(available_timezones())


def _known_zone(value: str) -> str:
    if value not in ZONES:
        raise ValueError(f"{value!r} is not an IANA time zone such as America/Toronto")
    return value


CompanyName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=255, pattern=NAME_PATTERN),
    Field(description="Name of the company; letters, digits, spaces and - ' , & @ . ? !"),
]
Description = Annotated[str, StringConstraints(max_length=4000)]
TagKey = Annotated[str, StringConstraints(pattern=r"^[^\n\x00]{1,27}$")]
TagValue = Annotated[str, StringConstraints(max_length=100)]
Tags = Annotated[
    dict[TagKey, TagValue], Field(max_length=10, json_schema_extra={"additionalProperties": False})
]
TimeZone = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    AfterValidator(_known_zone),
    Field(
        description="Extension: IANA time zone for the no-future-dates rule.",
        json_schema_extra={"enum": sorted(ZONES)},
    ),
]


class CompanyRequestBody(BaseModel):
    model_config = ConfigDict(extra="ignore", title="Create company request")

    name: CompanyName
    description: Description | None = None
    tags: Tags | None = None
    timeZone: TimeZone | None = None


class CompanyUpdateRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", title="Update company request")

    name: CompanyName | None = None
    description: Description | None = None
    tags: Tags | None = None
    timeZone: TimeZone | None = None


class Company(Wire):
    id: str
    name: str
    description: str | None = None
    redirect: str = Field(
        description="The Link flow for the company's newest QuickBooks connection (one is made "
        "when it has none). Create and get answers carry a fresh single-use `otp`, as `linkUrl` "
        "does; without a valid one the page asks the SMB for a new link."
    )
    lastSync: datetime | None = None
    created: datetime
    createdByUserName: str | None = None
    products: list[str]
    tags: dict[str, str] = Field(default_factory=dict)
    referenceSubsidiaryCompanies: list[dict[str, str]] = Field(default_factory=list)
    dataConnections: list[Connection] = Field(default_factory=list)
    timeZone: str = Field(description="Extension: the zone used for 'today' in push rules.")


class Companies(PageMeta):
    results: list[Company]
