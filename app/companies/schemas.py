"""Company wire shapes (Codat's Company, CompanyRequestBody, CompanyUpdateRequest)."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Annotated
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from app.connections.schemas import Connection
from app.kit.schemas import WS, CodatShape, PageMeta

# Codat's name characters (^[A-Za-z0-9\s\-',&@.,?!\s]+$), plus the letters of any alphabet with
# their accents (SPEC §4: `Café Dupont`), so every name Codat accepts is still accepted: letters
# and combining marks of the Basic Multilingual Plane. The published pattern spells them out as
# ranges, so it means the same to every regex engine (ECMA, Python, Rust) as _name_characters.
_CODAT = r"A-Za-z0-9\-',&@.?!"
_SPACE = re.compile(f"[{WS}]")
_CODAT_CHAR = re.compile(f"[{_CODAT}]")


def _is_letter(char: str) -> bool:
    return ord(char) < 0x10000 and unicodedata.category(char)[0] in "LM"


def _letter_ranges() -> str:
    ranges: list[str] = []
    start: int | None = None
    for point in range(0x80, 0x10001):
        inside = point < 0x10000 and _is_letter(chr(point))
        if inside and start is None:
            start = point
        elif not inside and start is not None:
            end = point - 1
            ranges.append(f"\\u{start:04x}" + (f"-\\u{end:04x}" if end > start else ""))
            start = None
    return "".join(ranges)


_NAME_CHAR = _CODAT + _letter_ranges()
NAME_PATTERN = f"^[{_NAME_CHAR}{WS}]*[{_NAME_CHAR}][{_NAME_CHAR}{WS}]*$"
NAME_RULE = "letters of any alphabet (accents too), digits 0-9, spaces and - ' , & @ . ? !"


def _name_characters(value: str) -> str:
    """The pattern's rule, with the refused characters named (not the pattern) in the error."""
    refused = sorted(
        {c for c in value if not (_CODAT_CHAR.match(c) or _SPACE.match(c) or _is_letter(c))}
    )
    if refused:
        shown = ", ".join(repr(c) if c.isprintable() else f"U+{ord(c):04X}" for c in refused)
        raise ValueError(f"contains characters a company name cannot have: {shown} ({NAME_RULE})")
    if not value or all(_SPACE.match(c) for c in value):
        raise ValueError("must have at least one letter, digit or punctuation mark")
    return value


ZONES = frozenset(available_timezones())


def _known_zone(value: str) -> str:
    if value not in ZONES:
        raise ValueError(f"{value!r} is not an IANA time zone such as America/Toronto")
    return value


CompanyName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=255),
    AfterValidator(_name_characters),
    Field(
        description=f"Name of the company: {NAME_RULE}.",
        json_schema_extra={"pattern": NAME_PATTERN},
    ),
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


class Company(CodatShape):
    EXTENSIONS = {"timeZone": "timeZone"}  # inline only with `Bankfeeds-Include: timeZone`

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
    timeZone: str | None = Field(
        default=None,
        description="Extension, with `Bankfeeds-Include: timeZone` only: the zone used for "
        "'today' in push rules.",
    )


class Companies(PageMeta):
    results: list[Company]
