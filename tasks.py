#!/usr/bin/env python3
"""Quick start with nothing but Python 3.11+:

    python3 tasks.py run                # the service on the embedded defaults (SQLite + Redis)
    python3 tasks.py bankfeeds ARGS...  # the `bankfeeds` command: tenants create 'My App', ...
    python3 tasks.py test               # the suite (PostgreSQL/Redis if DATABASE_URL/REDIS_URL)
    python3 tasks.py lint               # ruff and mypy
    python3 tasks.py docs               # regenerate docs/CONFIGURATION.md, CLI.md and WORKER.md

Each makes .venv on first use: `run` and `bankfeeds` install the service alone, `test` and
`lint` add the development tools (pytest, Playwright, mypy, the Codat SDK, ...). It reinstalls
only when pyproject.toml or constraints.txt change. `test` also installs the browser tests'
npm package (tests/browser) when npm is present.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".installed"
BROWSER = ROOT / "tests" / "browser"
BROWSER_STAMP = BROWSER / "node_modules" / ".installed"


def _fingerprint(*names: str) -> str:
    digest = hashlib.sha256()
    for name in names:
        path = ROOT / name
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_venv(dev: bool) -> None:
    """The runtime dependencies, and the dev extras too when `dev` (test, lint)."""
    if sys.version_info < (3, 11):  # noqa: UP036  (the point: say so on an old Python)
        sys.exit("Python 3.11 or newer is needed.")
    if not (BIN / "python").exists():
        print("creating .venv ...", flush=True)
        venv.create(VENV, with_pip=True)
    fingerprint = _fingerprint("pyproject.toml", "constraints.txt")
    installed = STAMP.read_text().split() if STAMP.exists() else []
    if installed[:1] == [fingerprint] and (not dev or installed[1:] == ["dev"]):
        return
    what = "development" if dev else "runtime"
    print(f"installing {what} dependencies into .venv ...", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)  # noqa: S603
    constraints = (
        ["-c", str(ROOT / "constraints.txt")] if (ROOT / "constraints.txt").exists() else []
    )
    target = f"{ROOT}[dev]" if dev else str(ROOT)
    subprocess.run([*pip, *constraints, "-e", target], check=True)  # noqa: S603
    STAMP.write_text(f"{fingerprint} dev" if dev else fingerprint)


def ensure_browser_package() -> None:
    """axe-core for the browser tests, from tests/browser's lock file; skipped without npm
    (the browser tests then skip, or fail when BANKFEEDS_REQUIRE_BROWSER is set, as in CI)."""
    npm = shutil.which("npm")
    if npm is None:
        return
    fingerprint = _fingerprint("tests/browser/package-lock.json")
    if BROWSER_STAMP.exists() and BROWSER_STAMP.read_text() == fingerprint:
        return
    print("installing the browser tests' npm package (tests/browser) ...", flush=True)
    quiet = ["--no-audit", "--no-fund", "--silent"]
    subprocess.run([npm, "ci", "--prefix", str(BROWSER), *quiet], check=True)  # noqa: S603
    BROWSER_STAMP.write_text(fingerprint)


def run(*cmd: str) -> int:
    return subprocess.call(list(cmd), cwd=ROOT)  # noqa: S603


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "bankfeeds", "test", "lint", "docs"}:
        print(__doc__)
        return 2
    task, rest = argv[0], argv[1:]
    ensure_venv(dev=task in {"test", "lint"})
    if task == "run":
        return run(str(BIN / "bankfeeds"), "dev", *rest)
    if task == "docs":
        reference = str(ROOT / "docs" / "CONFIGURATION.md")
        return run(str(BIN / "python"), "-m", "app.devtools.config_reference", reference) or run(
            str(BIN / "python"), "-m", "app.devtools.doc_reference"
        )
    if task == "bankfeeds":
        return subprocess.call([str(BIN / "bankfeeds"), *rest])  # noqa: S603  (caller's cwd)
    if task == "test":
        ensure_browser_package()
        return run(str(BIN / "python"), "-m", "pytest", *rest)
    for cmd in (
        ["ruff", "check", "app", "tests", "bench", "tasks.py"],
        ["ruff", "format", "--check", "app", "tests", "bench", "tasks.py"],
        ["mypy"],
    ):
        code = run(str(BIN / cmd[0]), *cmd[1:])
        if code:
            return code
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:  # one line, not a traceback; an unfinished install resumes next time
        print("\ninterrupted (an unfinished install of .venv resumes on the next run)")
        sys.exit(130)
