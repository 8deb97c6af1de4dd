"""Contracts kept in this repository, so the suite needs nothing beside it.

- The client API is checked with the official `codat-bankfeeds` SDK (a dev dependency): see
  `tests.contracts.sdk`. Codat's own request examples are in `codat-request-examples.json`.
- The Intuit IDX side is checked with `idx.schema.json`: JSON Schemas of the answers we serve,
  written from Codat's public Intuit IDX OpenAPI document (see README.md beside this file).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

HERE = Path(__file__).resolve().parent


@cache
def _load(name: str) -> dict[str, Any]:
    return json.loads((HERE / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def idx_document() -> dict[str, Any]:
    return _load("idx.schema.json")


def idx_operations() -> list[dict[str, str]]:
    """The IDX operations we serve: method, path (below /partners/intuit/idx), operationId."""
    return idx_document()["x-operations"]  # type: ignore[no-any-return]


def request_examples(operation_id: str) -> dict[str, Any]:
    """Codat's request examples of one client-API operation, by their names."""
    return _load("codat-request-examples.json")[operation_id]  # type: ignore[no-any-return]


def assert_idx_valid(definition: str, instance: Any) -> None:
    """`instance` matches `$defs/<definition>` of the IDX schema (IntuitAccounts, ...)."""
    schema = {**idx_document(), "$ref": f"#/$defs/{definition}"}
    errors = sorted(Draft202012Validator(schema).iter_errors(instance), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])
