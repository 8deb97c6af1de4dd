"""Link branding wire shapes: the callout (EN required, FR optional), accent colour, logo."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema

from app.kit.schemas import Wire


def _plain(value: str) -> str:
    if any(unicodedata.category(c) == "Cc" and c != "\n" for c in value):
        raise ValueError("must be plain text, without control characters")
    if not value.strip():
        raise ValueError("must not be blank")
    return value


# What _plain accepts, for the schema: no control character but line feeds (Unicode Cc is exactly
# \x00-\x1f and \x7f-\x9f), and at least one character that is not white space.
_TEXT = r"[^\x00-\x09\x0b-\x1f\x7f-\x9f]"
_INK = r"[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"


def _plain_schema(most: int) -> WithJsonSchema:
    shape = {"type": "string", "minLength": 1, "maxLength": most}
    return WithJsonSchema({**shape, "pattern": f"^{_TEXT}*{_INK}{_TEXT}*$"}, mode="validation")


Title = Annotated[
    str, StringConstraints(min_length=1, max_length=50), AfterValidator(_plain), _plain_schema(50)
]
Body = Annotated[
    str,
    StringConstraints(min_length=1, max_length=150),
    AfterValidator(_plain),
    _plain_schema(150),
]
COLOR = r"^#[0-9A-Fa-f]{6}$"
Color = Annotated[str, StringConstraints(pattern=COLOR)]


def is_color(value: str) -> bool:
    return re.fullmatch(COLOR, value) is not None


class Callout(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title = Field(description="Plain text, at most 50 characters.")
    body: Body = Field(description="Plain text, at most 150 characters.")


class Callouts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    en: Callout
    fr: Callout | None = Field(default=None, description="Falls back to English when absent.")


class LinkSettingsBody(BaseModel):
    model_config = ConfigDict(extra="forbid", title="Link settings")

    callout: Callouts | None = None
    accentColor: Color = Field(default="#0b6e4f", description="#RRGGBB")


class LogoInfo(Wire):
    contentType: str
    sizeBytes: int


class LinkSettingsOut(Wire):
    callout: Callouts | None = None
    accentColor: str
    logo: LogoInfo | None = None
    updatedOnUtc: datetime | None = None
