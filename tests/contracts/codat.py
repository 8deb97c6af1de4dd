"""Every client-API answer against Codat's Bank Feeds OpenAPI document, strictly (SPEC §5).

`Codat-Bank-Feeds.yaml` (beside this file) is Codat's public document, vendored as published.
`check_answer` finds the operation of a request (method and path template), the schema of the
answer's status, and validates the body with JSON Schema 2020-12 after two conversions:
OpenAPI 3.0's `nullable` becomes a null type, and every object schema that lists its properties
and says nothing of others refuses additional properties (Codat's own shapes already do; the few
that are silent are read the way a strict client reads them). An `allOf` of objects is merged
first, so refusing the extra properties of one part does not refuse the other part's.

Routes Codat does not define (our extensions: `…/feedHealth`, `…/pulls`, `…/bankTransactions`
listing, webhooks, …) and statuses it gives no body are not checked here; their own tests and
docs/API.md cover them. The test client of the suite (tests/conftest.py) runs this on every
answer, so a non-conforming answer fails the test that produced it.
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

HERE = Path(__file__).resolve().parent
METHODS = ("get", "post", "put", "patch", "delete")
# The opt-in to our additions inline (app/accounts/schemas.py): such answers are ours, not Codat's.
OPT_IN_HEADER = "Bankfeeds-Include"


@cache
def document() -> dict[str, Any]:
    text = (HERE / "Codat-Bank-Feeds.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)  # type: ignore[no-any-return]


def _resolve(node: Any, seen: tuple[str, ...] = ()) -> Any:
    """The schema with every local $ref inlined (Codat's document has no recursive shapes; a
    cycle would stop at an empty schema)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            if ref in seen:
                return {}
            target: Any = document()
            for part in ref[2:].split("/"):
                key = part.replace("~1", "/").replace("~0", "~")
                target = target[int(key)] if isinstance(target, list) else target[key]
            merged = {**copy.deepcopy(target), **{k: v for k, v in node.items() if k != "$ref"}}
            return _resolve(merged, (*seen, ref))
        return {k: _resolve(v, seen) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, seen) for v in node]
    return node


def _strict(node: Any) -> Any:
    """OpenAPI 3.0 to JSON Schema, refusing additional properties where the shape is silent."""
    if isinstance(node, list):
        return [_strict(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = {k: _strict(v) for k, v in node.items() if k not in ("example", "examples")}
    if "oneOf" in node:  # v1 and v2 lists both hold []: one shape is enough, as clients parse
        node["anyOf"] = node.pop("oneOf")
    parts = node.get("allOf")
    if isinstance(parts, list) and all(
        isinstance(p, dict) and ("properties" in p or p.get("type") == "object") for p in parts
    ):
        merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
        for p in parts:
            merged["properties"].update(p.get("properties", {}))
            merged["required"] += p.get("required", [])
            if p.get("additionalProperties") is not None:
                merged["additionalProperties"] = p["additionalProperties"]
        rest = {k: v for k, v in node.items() if k != "allOf"}
        merged["properties"].update(rest.pop("properties", {}))
        merged["required"] += rest.pop("required", [])
        node = {**rest, **merged}
        if "additionalProperties" not in node or node["additionalProperties"] is False:
            node["additionalProperties"] = False
    if node.pop("nullable", False):
        if "type" in node:
            kind = node["type"]
            node["type"] = [*kind, "null"] if isinstance(kind, list) else [kind, "null"]
            if "enum" in node:
                node["enum"] = [*node["enum"], None]
        else:
            node = {"anyOf": [node, {"type": "null"}]}
    if "properties" in node and "additionalProperties" not in node:
        node["additionalProperties"] = False
    return node


@cache
def _operations() -> list[tuple[str, re.Pattern[str], dict[str, Any]]]:
    out = []
    for template, item in document()["paths"].items():
        pattern = re.compile("^" + re.sub(r"\{[^}/]+\}", "[^/]+", template) + "$")
        for method in METHODS:
            if method in item:
                out.append((method.upper(), pattern, item[method]))
    # The most specific template first: a literal segment beats a parameter.
    out.sort(key=lambda o: o[1].pattern.count("[^/]+"))
    return out


@cache
def _validator(method: str, template: str, status: str) -> Draft202012Validator | None:
    for m, pattern, operation in _operations():
        if m == method and pattern.pattern == template:
            answer = operation.get("responses", {}).get(status)
            if answer is None:
                return None
            answer = _resolve(answer)
            schema = (answer.get("content") or {}).get("application/json", {}).get("schema")
            if schema is None:
                return None
            return Draft202012Validator(_strict(schema))
    return None


def operation_of(method: str, path: str) -> str | None:
    """The path template (as its regex) of Codat's operation for a request, if Codat has one."""
    for m, pattern, _ in _operations():
        if m == method and pattern.match(path):
            return pattern.pattern
    return None


class NonConforming(AssertionError):
    pass


def check_answer(method: str, path: str, status: int, body: bytes) -> bool:
    """Validate one answer; True when Codat defines its shape (and it conformed)."""
    template = operation_of(method.upper(), path)
    if template is None or not body:
        return False
    validator = _validator(method.upper(), template, str(status))
    if validator is None:
        return False
    instance = json.loads(body)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        shown = "; ".join(
            f"{'/'.join(map(str, e.absolute_path)) or '$'}: {e.message}" for e in errors[:5]
        )
        raise NonConforming(f"{method} {path} {status} is not Codat's shape: {shown}")
    return True
