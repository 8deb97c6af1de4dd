"""Wire shapes shared by every domain: the error body, paging and the path parameters."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, ClassVar, Literal
from urllib.parse import urlencode

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    WithJsonSchema,
    model_serializer,
)

# White space spelled out: Python's `\s` also takes \x1c-\x1f and the Rust regex engine that
# checks pydantic patterns does not, so a pattern with `\s` would mean two things.
WS = r"\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# Strings are refused with NUL anywhere (PostgreSQL text cannot hold it); the schema says so.
NO_NUL = r"^[^\x00]*$"


def _not_a_number(value: object) -> object:
    # pydantic would read a number as Unix time; the wire (and our schema) says an ISO string.
    if isinstance(value, int | float | Decimal):
        raise ValueError("must be an ISO 8601 string, not a number")
    return value


# Dates and times read from JSON: ISO 8601 text (or the values themselves, from storage), never
# a number, as the OpenAPI document says.
WireDate = Annotated[date, BeforeValidator(_not_a_number)]
WireDateTime = Annotated[datetime, BeforeValidator(_not_a_number)]
WireDateOrDateTime = Annotated[date | datetime, BeforeValidator(_not_a_number)]


class Wire(BaseModel):
    """Base of every response shape: field names are the wire's camelCase."""

    model_config = ConfigDict(populate_by_name=True, from_attributes=True)


# Codat's shapes exactly, by default (SPEC §5): our additions to a shape Codat defines are
# served inline only to a request that opts in with this header, which a Codat client never
# sends, e.g. `Bankfeeds-Include: feedHealth, timeZone`. app/kit/api.py sets `included` per request.
INCLUDE_HEADER = "Bankfeeds-Include"
included: ContextVar[frozenset[str]] = ContextVar("bankfeeds_included", default=frozenset())


def asked_to_include(header: str | None) -> frozenset[str]:
    return frozenset(p.strip() for p in (header or "").split(",") if p.strip())


class CodatShape(Wire):
    """A shape Codat's reference defines, with our additions: EXTENSIONS maps each added field
    to the opt-in that shows it; without that opt-in the field is left out of the answer."""

    EXTENSIONS: ClassVar[dict[str, str]] = {}

    @model_serializer(mode="wrap")
    def _codat_exactly(self, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        data = handler(self)
        asked = included.get()
        hidden = {f for f, opt_in in self.EXTENSIONS.items() if opt_in not in asked}
        if not hidden or not isinstance(data, dict):
            return data
        return {k: v for k, v in data.items() if k not in hidden}


class ErrorValidationItem(Wire):
    itemId: str | None = None
    message: str | None = None
    validatorName: str | None = None


class ErrorValidation(Wire):
    errors: list[ErrorValidationItem] | None = None
    warnings: list[ErrorValidationItem] | None = None


class ErrorMessage(Wire):
    statusCode: int
    service: str
    error: str
    correlationId: str | None
    validation: ErrorValidation | None = None
    canBeRetried: Literal["True", "False", "Unknown"]
    detailedErrorCode: int


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    page: int = Field(default=1, ge=1, le=2**31 - 1, description="Page number, from 1.")
    pageSize: int = Field(default=100, ge=1, le=5000, description="Records per page.")
    query: str | None = Field(default=None, description="Codat query string (see docs/API.md).")
    orderBy: str | None = Field(default=None, description="Field to order by; '-' for descending.")

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.pageSize


# The path parameters of the client API, one model per shape of path (`api.py` maps each
# {camelCase} parameter to its snake_case field). Plain strings: the services judge the ids and
# answer a bad one as they always have.


@dataclass(frozen=True, slots=True)
class CompanyPath:
    company_id: str


@dataclass(frozen=True, slots=True)
class ConnectionPath:
    company_id: str
    connection_id: str


@dataclass(frozen=True, slots=True)
class AccountPath:
    company_id: str
    connection_id: str
    account_id: str


class HalRef(Wire):
    href: str


class Links(Wire):
    self_: HalRef = Field(alias="self")
    current: HalRef
    next: HalRef | None = Field(default=None, exclude_if=lambda v: v is None)
    previous: HalRef | None = Field(default=None, exclude_if=lambda v: v is None)


class PageMeta(Wire):
    pageNumber: int
    pageSize: int
    totalResults: int
    links: Links = Field(alias="_links")


def page_meta(path: str, q: PageQuery, total: int) -> dict[str, object]:
    """pageNumber/pageSize/totalResults and HAL links, as Codat pages them."""

    def at(page: int) -> HalRef:
        params: dict[str, object] = {"page": page, "pageSize": q.pageSize}
        if q.query:
            params["query"] = q.query
        if q.orderBy:
            params["orderBy"] = q.orderBy
        return HalRef(href=f"{path}?{urlencode(params)}")

    last_page = max(1, -(-total // q.pageSize))
    links = Links.model_validate(
        {
            "self": HalRef(href=path),
            "current": at(q.page),
            "next": at(q.page + 1) if q.page < last_page else None,
            "previous": at(q.page - 1) if 1 < q.page <= last_page + 1 else None,
        }
    )
    return {"pageNumber": q.page, "pageSize": q.pageSize, "totalResults": total, "_links": links}


def _as_json_number(value: Decimal) -> int | float:
    # Amounts are capped at 15 significant digits, so the float's shortest repr is the exact
    # decimal text: the wire carries a JSON number as Codat's does, never a rounded one.
    if value == value.to_integral_value():
        return int(value)
    return float(value)


MONEY_TEXT = r"^-?(0|[1-9]\d{0,12})(\.\d{1,2})?$"
Money = Annotated[
    Decimal,
    Field(max_digits=15, decimal_places=2, allow_inf_nan=False),
    PlainSerializer(_as_json_number, return_type=float, when_used="json"),
    WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "number",
                    "multipleOf": 0.01,
                    "exclusiveMaximum": 1e13,
                    "exclusiveMinimum": -1e13,
                },
                {"type": "string", "pattern": MONEY_TEXT},
            ],
            "description": "A decimal with at most 2 places, as a number or a string.",
        },
        mode="validation",
    ),
]
