"""The test tree's layout (docs/DEVELOPMENT.md): nothing outside tests/ imports it, no test file
imports another, shared code lives in tests/helpers/, and conftest.py holds only fixtures (and
pytest's hooks)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, at any depth (function-level imports included)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def test_the_reader_sees_imports_inside_functions(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import os\n\ndef run():\n    from tests.helpers import faults\n")
    assert imports_of(sample) == [(1, "os"), (4, "tests.helpers")]


def test_nothing_outside_tests_imports_tests() -> None:
    sources = [*ROOT.glob("app/**/*.py"), *ROOT.glob("bench/**/*.py"), ROOT / "tasks.py"]
    assert len(sources) > 50
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sources
        for line, module in imports_of(path)
        if module == "tests" or module.startswith("tests.")
    ]
    assert found == []


def test_no_test_module_imports_another() -> None:
    """What two test files share is a helper (tests/helpers/) or a fixture (conftest.py)."""
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in TESTS.rglob("*.py")
        for line, module in imports_of(path)
        if module.split(".")[-1].startswith("test_") and module.startswith("tests.")
    ]
    assert found == []


def test_shared_test_code_lives_in_helpers() -> None:
    flat = sorted(
        p.name
        for p in TESTS.glob("*.py")
        if not p.name.startswith("test_") and p.name not in ("conftest.py", "__init__.py")
    )
    assert flat == [], f"move {flat} into tests/helpers/"


def _is_fixture(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if ast.unparse(target) == "pytest.fixture":
            return True
    return False


def test_conftest_holds_only_fixtures() -> None:
    tree = ast.parse((TESTS / "conftest.py").read_text())
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    assert len(functions) > 10
    others = [n.name for n in functions if not _is_fixture(n) and not n.name.startswith("pytest_")]
    classes = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
    assert (others, classes) == ([], []), "helpers belong in tests/helpers/"
