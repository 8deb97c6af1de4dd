"""No SQLAlchemy private attribute in `app/` (issue 29): a private name (`._x`, or
`getattr(obj, "_x")`) that app/ uses but never defines itself, and that SQLAlchemy's own
source does define, is a reach into SQLAlchemy's internals, which a minor upgrade may change
(a lost BEGIN lived for a day behind `_transaction`). The push's direct statements go through
public APIs only: `compile()` with the dialect, the types' `dialect_impl()` processors and the
DBAPI connection's PEP 249 cursor (app/db.py `Direct`)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import sqlalchemy

APP = Path(__file__).resolve().parent.parent / "app"
PRIVATE = re.compile(r"_[a-z]\w*")


def private_uses(root: Path) -> dict[str, list[str]]:
    """Private attribute names used under `root` that no file there defines, with where."""
    defined: set[str] = set()
    used: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            name = None
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                defined.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                defined.add(node.id)
            elif isinstance(node, ast.arg):
                defined.add(node.arg)
            elif isinstance(node, ast.alias):
                defined.add(node.asname or node.name.split(".")[-1])
            elif isinstance(node, ast.Attribute):
                if isinstance(node.ctx, ast.Store):
                    defined.add(node.attr)
                else:
                    name = node.attr
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in {"getattr", "hasattr", "setattr"}
                and len(node.args) > 1
                and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, str)
            ):
                name = node.args[1].value
            if name and PRIVATE.fullmatch(name):
                used.setdefault(name, []).append(f"{path.relative_to(root)}:{node.lineno}")  # type: ignore[attr-defined]
    return {name: where for name, where in used.items() if name not in defined}


def sqlalchemy_privates() -> set[str]:
    """Every private name SQLAlchemy's source mentions (its dialects' adapters included)."""
    names: set[str] = set()
    for path in Path(sqlalchemy.__file__).parent.rglob("*.py"):
        names.update(PRIVATE.findall(path.read_text(encoding="utf-8")))
    return names


def test_app_uses_no_sqlalchemy_private_attribute() -> None:
    reached = {
        name: where for name, where in private_uses(APP).items() if name in sqlalchemy_privates()
    }
    assert reached == {}, f"SQLAlchemy internals used in app/: {reached}"


def test_the_check_sees_a_reach_into_sqlalchemy(tmp_path: Path) -> None:
    """What the old `Direct` did is caught: attribute and getattr forms alike."""
    (tmp_path / "db.py").write_text(
        "async def driver(raw, compiled):\n"
        "    if raw.dbapi_connection._transaction is None:\n"
        "        await raw.dbapi_connection._start_transaction()\n"
        "    return getattr(compiled, '_bind_processors', {})\n"
        "class Own:\n"
        "    def __init__(self):\n"
        "        self._compiled = {}\n"
        "    def get(self):\n"
        "        return self._compiled\n",
        encoding="utf-8",
    )
    found = set(private_uses(tmp_path)) & sqlalchemy_privates()
    assert found == {"_transaction", "_start_transaction", "_bind_processors"}
