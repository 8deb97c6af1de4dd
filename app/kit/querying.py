"""A small, strict subset of Codat's query language for list endpoints.

`query=name~Acme&&created>2024-01-01` — comparisons joined by `&&` (and) or `||` (or, binding
looser), operators `=`, `!=`, `~` (contains), `>`, `>=`, `<`, `<=`; a value may be wrapped in
braces `{...}` to hold operator characters. Unknown properties or syntax answer 400, so a filter
is never silently ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.sql.elements import ColumnElement

from app.db import parse_uuid
from app.kit.errors import BadRequest

# Comparisons one query may hold: SQLite refuses a statement past its expression depth (a 503
# once), and no list needs more.
MAX_CLAUSES = 100

_OPS = r"(!=|>=|<=|=|~|>|<)"
_ORDERED = r"(!=|>=|<=|=|>|<)"
_TEXT = r"[^&|\x00]*"
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# [0-9], not \d: Python's \d takes any Unicode digit, and fromisoformat wants ASCII ones.
_DATE = (
    r"[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])"
    r"(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z?)?"
)


def pattern(text: str, uuids: str = "", datetimes: str = "", *, blank: str = r"\s*") -> str:
    """A regular expression of queries this parser accepts over these properties (each an
    alternation), for the OpenAPI document: anything it matches parses; what it leaves out
    (single & or | inside a value, other spellings of dates) answers 400 or is never sent."""
    terms = [f" *({text}) *{_OPS}{_TEXT}"]
    if uuids:
        terms.append(f" *({uuids}) *{_ORDERED} *(\\{{{_UUID}\\}}|{_UUID}) *")
    if datetimes:
        terms.append(f" *({datetimes}) *{_ORDERED} *(\\{{{_DATE}\\}}|{_DATE}) *")
    one = "(" + "|".join(terms) + ")"
    return f"^({blank}|{one}((&&|\\|\\|){one})*)$"


_COMPARISON = re.compile(r"^\s*([A-Za-z][A-Za-z0-9.]*)\s*(!=|>=|<=|=|~|>|<)\s*(.*?)\s*$", re.S)


@dataclass(frozen=True)
class Field:
    column: Any
    kind: str = "text"  # text | datetime | uuid


Resolver = Callable[[str], Field | None]


def _value(raw: str, field: Field, prop: str) -> Any:
    if raw.startswith("{") and raw.endswith("}"):
        raw = raw[1:-1]
    if field.kind == "uuid":
        as_id = parse_uuid(raw)
        if as_id is None:
            raise BadRequest(f"Error parsing query - {prop} needs an id")
        return as_id
    if field.kind == "datetime":
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError as exc:
            raise BadRequest(f"Error parsing query - {prop} needs an ISO-8601 date") from exc
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return raw


def _comparison(text: str, resolve: Resolver) -> ColumnElement[bool]:
    match = _COMPARISON.match(text)
    if not match:
        raise BadRequest(f"Error parsing query - Malformed query: {text.strip()!r}")
    prop, op, raw = match.groups()
    field = resolve(prop)
    if field is None:
        raise BadRequest(f"Error parsing query - Could not resolve property {prop}")
    value = _value(raw, field, prop)
    col = field.column
    if op == "~":
        if field.kind not in ("text", "json"):
            raise BadRequest(f"Error parsing query - {prop} does not support ~")
        return col.contains(value, autoescape=True)  # type: ignore[no-any-return]
    ops: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
        "=": lambda c, v: c == v,
        "!=": lambda c, v: c != v,
        ">": lambda c, v: c > v,
        ">=": lambda c, v: c >= v,
        "<": lambda c, v: c < v,
        "<=": lambda c, v: c <= v,
    }
    return ops[op](col, value)


def parse(query: str | None, resolve: Resolver) -> list[ColumnElement[bool]]:
    if not query or not query.strip():
        return []
    clauses = query.count("&&") + query.count("||") + 1
    if clauses > MAX_CLAUSES:
        raise BadRequest(
            f"Error parsing query - {clauses} comparisons; at most {MAX_CLAUSES} are allowed"
        )
    alternatives = []
    for alternative in query.split("||"):
        parts = [_comparison(p, resolve) for p in alternative.split("&&")]
        alternatives.append(and_(*parts))
    return [or_(*alternatives)]


def order_by(
    order: str | None, columns: dict[str, Any], default: Sequence[Any]
) -> list[ColumnElement[Any]]:
    if not order:
        return list(default)
    descending = order.startswith("-")
    name = order.lstrip("-").strip()
    if name not in columns:
        allowed = ", ".join(sorted(columns))
        raise BadRequest(f"Cannot order by {name!r}; use one of {allowed} (prefix - to reverse)")
    col = columns[name]
    return [col.desc() if descending else col.asc(), *default]
