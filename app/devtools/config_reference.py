"""docs/CONFIGURATION.md, generated from `Settings` (names, defaults, limits, descriptions), so
the reference cannot drift from the code: `python3 tasks.py docs` rewrites it, and a test fails
when it is stale."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from annotated_types import Ge, Gt, MaxLen, MinLen
from pydantic import AliasChoices
from pydantic.fields import FieldInfo

from app.config import Settings

HEADER = """\
# Configuration

<!-- Generated from app/config.py by `python3 tasks.py docs`; edit the Settings fields, not this
file (tests/test_packaging.py fails when it is stale). -->

One settings object (`app/config.py`), read from the environment. Every variable is optional.

| Variable | Default | Limits | Meaning |
|---|---|---|---|
"""


def variable(name: str, field: FieldInfo) -> str:
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return f"BANKFEEDS_{name.upper()}"


def _default(field: FieldInfo) -> str:
    value: Any = field.default
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, int) and value >= 10_000:
        for unit, size in (("MiB", 1024 * 1024), ("KiB", 1024)):
            if value % size == 0:
                return f"`{value}` ({value // size} {unit})"
    return f"`{value}`"


def _limits(field: FieldInfo) -> str:
    said: list[str] = []
    for rule in field.metadata:
        if isinstance(rule, Ge):
            said.append(f"≥ {rule.ge}")
        elif isinstance(rule, Gt):
            said.append(f"> {rule.gt}")
        elif isinstance(rule, MinLen):
            said.append(f"at least {rule.min_length} characters")
        elif isinstance(rule, MaxLen):
            said.append(f"at most {rule.max_length} characters")
        elif getattr(rule, "pattern", None):
            said.append(f"`{rule.pattern}`")
    return ", ".join(said)


def render() -> str:
    rows = [
        "| "
        + " | ".join(
            cell.replace("|", "\\|")
            for cell in (
                f"`{variable(name, field)}`",
                _default(field),
                _limits(field),
                field.description or "",
            )
        )
        + " |"
        for name, field in Settings.model_fields.items()
    ]
    return HEADER + "\n".join(rows) + "\n"


def main(argv: list[str]) -> int:
    """With a path: write the reference there; without: print it."""
    if argv:
        Path(argv[0]).write_text(render(), encoding="utf-8")
    else:
        sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
