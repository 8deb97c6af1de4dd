#!/usr/bin/env python3
"""Quick start with nothing but Python 3.11+:

    python3 tasks.py run     # the service on the embedded defaults (SQLite + embedded Redis)
    python3 tasks.py test    # the test suite (PostgreSQL/Redis when DATABASE_URL/REDIS_URL say so)
    python3 tasks.py lint    # ruff and mypy

Each makes .venv on first use and reinstalls only when pyproject.toml or constraints.txt change.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".installed"


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for name in ("pyproject.toml", "constraints.txt"):
        path = ROOT / name
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_venv() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036  (the point: say so on an old Python)
        sys.exit("Python 3.11 or newer is needed.")
    if not (BIN / "python").exists():
        print("creating .venv ...", flush=True)
        venv.create(VENV, with_pip=True)
    if STAMP.exists() and STAMP.read_text() == _fingerprint():
        return
    print("installing dependencies into .venv ...", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)  # noqa: S603
    constraints = (
        ["-c", str(ROOT / "constraints.txt")] if (ROOT / "constraints.txt").exists() else []
    )
    subprocess.run([*pip, *constraints, "-e", f"{ROOT}[dev]"], check=True)  # noqa: S603
    STAMP.write_text(_fingerprint())


def run(*cmd: str) -> int:
    return subprocess.call(list(cmd), cwd=ROOT)  # noqa: S603


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test", "lint"}:
        print(__doc__)
        return 2
    ensure_venv()
    task, rest = argv[0], argv[1:]
    if task == "run":
        return run(str(BIN / "bankfeeds"), "dev", *rest)
    if task == "test":
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
    sys.exit(main(sys.argv[1:]))
