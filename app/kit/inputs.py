"""Reading a request: its path parameters as a model, its query as a pydantic model, and JSON
with exact decimals and no NUL, each refused with a 400 that says where."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, TypeVar

import msgspec
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from app.kit.errors import BadRequest, validation_items

A = TypeVar("A")
M = TypeVar("M", bound=BaseModel)

JSON_TYPES = ("application/json", "text/json", "application/merge-patch+json")


def field_name(param: str) -> str:
    """The path-model field of a path parameter: companyId -> company_id."""
    return re.sub(r"(?<!^)([A-Z])", r"_\1", param).lower()


def path_names(path: str) -> list[str]:
    return re.findall(r"{(\w+)}", path)


def parse_path(request: Request, params: type[A]) -> A:
    """The path parameters as the operation's model: strings, checked by the services (which
    answer a bad id as they always have)."""
    return params(**{field_name(k): str(v) for k, v in request.path_params.items()})


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _storable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


NUL_REFUSED = "NUL characters (\\u0000) are not accepted in any string."
SURROGATE_REFUSED = (
    "Unpaired UTF-16 surrogates (\\ud800 to \\udfff on their own) are not text and are not "
    "accepted in any string."
)
# With the body decoded as strict UTF-8, a surrogate can only come from a \uD800-\uDFFF escape:
# the strings are scanned only when the body holds one.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


# Parses what it can ~3x faster than the standard library (exact decimals too); anything it
# refuses (a BOM, NaN, a lone surrogate escape, malformed JSON) is parsed again by `json`, whose
# answer or error message stands, so the fast path never changes what a body means.
_FAST = msgspec.json.Decoder(float_hook=Decimal)
_NUL_ESCAPE = b"\\u0000"
_SURROGATE_BYTES = re.compile(rb"\\u[dD][89a-fA-F]")


def parse_json(raw: bytes) -> Any:
    """JSON in UTF-8 (RFC 8259; a leading BOM is allowed), with exact decimals (never floats)
    and a message that says where it broke. Strings PostgreSQL cannot store (a NUL, an unpaired
    surrogate) are refused here, with a 400."""
    try:
        data = _FAST.decode(raw)
    except Exception:  # refused or not understood: the standard library decides, as always
        return _parse_slowly(raw)
    return _storable_strings(data, _NUL_ESCAPE in raw, bool(_SURROGATE_BYTES.search(raw)))


def _parse_slowly(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # Python's JSON reader would also take UTF-16 and UTF-32, and let UTF-8-style
        # surrogate bytes through: neither is JSON on the wire.
        raise BadRequest(f"Malformed JSON: not UTF-8 (byte {exc.start})") from exc
    try:
        data = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise BadRequest(
            f"Malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno} (char {exc.pos})"
        ) from exc
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"Malformed JSON: {exc}") from exc
    return _storable_strings(data, "\\u0000" in text, bool(_SURROGATE_ESCAPE.search(text)))


def _storable_strings(data: Any, nul_escape: bool, surrogate_escape: bool) -> Any:
    """The strings are scanned only when the body holds the escape that could make them
    unstorable (a NUL or a surrogate can come from nothing else in strict UTF-8)."""
    if nul_escape and any("\x00" in t for t in _strings(data)):
        raise BadRequest(NUL_REFUSED)
    if surrogate_escape and not all(_storable(t) for t in _strings(data)):
        raise BadRequest(SURROGATE_REFUSED)
    return data


def refuse_nul(request: Request) -> None:
    """PostgreSQL text cannot hold NUL: refused in the path and query as in bodies (400)."""
    items = [request.scope.get("path", ""), *request.query_params.multi_items()]
    if any("\x00" in "".join(item) for item in items):
        raise BadRequest(NUL_REFUSED)


def parse_query(request: Request, model: type[M]) -> M:
    params: dict[str, str | list[str]] = {}
    for key in request.query_params:
        values = request.query_params.getlist(key)
        params[key] = values[-1]
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        raise BadRequest("The query string is not valid.", errors=validation_items(exc)) from exc
