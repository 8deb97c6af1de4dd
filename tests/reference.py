"""The public specs in ../shared/reference, loaded for validating our wire shapes against them.

The reference files are not copied into this repository: tests read them where the project's
shared folder keeps them (BANKFEEDS_REFERENCE_DIR overrides). Codat's files mix OpenAPI 3.0's
`nullable` into 3.1 schemas, so it is translated to JSON Schema's null type before use.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DIR = ROOT.parent / "shared" / "reference"


def reference_dir() -> Path:
    return Path(os.environ.get("BANKFEEDS_REFERENCE_DIR", DEFAULT_DIR))


def require_reference() -> Path:
    folder = reference_dir()
    if not (folder / "Codat-Bank-Feeds.yaml").exists():
        message = f"reference specs not found in {folder} (set BANKFEEDS_REFERENCE_DIR)"
        if os.environ.get("BANKFEEDS_REQUIRE_REFERENCE"):
            pytest.fail(message)
        pytest.skip(message)
    return folder


def _nullable(node: Any) -> Any:
    if isinstance(node, list):
        return [_nullable(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: _nullable(v) for k, v in node.items()}
    if node.pop("nullable", False) is True:
        if "enum" in node and None not in node["enum"]:
            node["enum"] = [*node["enum"], None]
        if "type" in node:
            kinds = node["type"] if isinstance(node["type"], list) else [node["type"]]
            node["type"] = [*kinds, "null"]
        elif any(k in node for k in ("$ref", "allOf", "oneOf", "anyOf")):
            inner = {k: node.pop(k) for k in ("$ref", "allOf", "oneOf", "anyOf") if k in node}
            node["anyOf"] = [inner, {"type": "null"}]
    return node


@cache
def document(name: str) -> dict[str, Any]:
    raw = yaml.safe_load((require_reference() / name).read_text())
    return _nullable(raw)  # type: ignore[no-any-return]


def validator(name: str, pointer: str) -> Draft202012Validator:
    uri = f"urn:reference:{name}"
    resource = Resource.from_contents(document(name), default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(uri, resource)
    return Draft202012Validator({"$ref": f"{uri}#{pointer}"}, registry=registry)


def assert_valid(name: str, pointer: str, instance: Any) -> None:
    errors = sorted(validator(name, pointer).iter_errors(instance), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])
