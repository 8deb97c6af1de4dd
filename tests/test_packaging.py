"""The Dockerfile and compose file, checked by reading them (no Docker engine runs here)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_dockerfile_is_one_non_root_image_without_build_tools() -> None:
    text = (ROOT / "Dockerfile").read_text()
    final = text.split("FROM ")[-1]
    assert "USER bankfeeds" in final
    assert "build-essential" not in final, "compilers stay in the build stage"
    assert 'ENTRYPOINT ["bankfeeds"]' in final
    assert "COPY --from=build /opt/venv /opt/venv" in final


def test_compose_runs_api_worker_postgres_redis_with_health_checks() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    for name in ("api", "worker", "postgres", "redis"):
        assert "healthcheck" in services[name], name
    assert services["api"]["command"][0] == "serve"
    assert services["worker"]["command"] == ["worker"]
    assert services["migrate"]["command"] == ["migrate"]
    assert services["api"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_the_configuration_reference_is_generated_from_settings() -> None:
    """docs/CONFIGURATION.md is what app/devtools/config_reference.py renders from Settings
    today: a new or changed setting fails here until `python3 tasks.py docs` is run."""
    from app.config import Settings
    from app.devtools.config_reference import render, variable

    written = (ROOT / "docs" / "CONFIGURATION.md").read_text(encoding="utf-8")
    assert written == render(), "docs/CONFIGURATION.md is stale: run `python3 tasks.py docs`"
    for name, field in Settings.model_fields.items():
        assert field.description, f"Settings.{name} has no description"
        assert f"| `{variable(name, field)}` |" in written
    assert "docs/CONFIGURATION.md" in (ROOT / "README.md").read_text()


def test_the_command_and_job_tables_are_generated_from_the_code() -> None:
    """docs/CLI.md's command table is click's command tree, docs/WORKER.md's job table the job
    registry: a command, option or job added, renamed or removed fails here until
    `python3 tasks.py docs` is run. The worker runs exactly the registry's jobs."""
    from app.cli import main
    from app.config import Settings
    from app.devtools.doc_reference import SECTIONS, render
    from app.jobruns import registry
    from app.worker import JOBS, cron_jobs

    for path in SECTIONS:
        written = path.read_text(encoding="utf-8")
        assert written == render(path), f"{path.name} is stale: run `python3 tasks.py docs`"
    cli = (ROOT / "docs" / "CLI.md").read_text(encoding="utf-8")

    def leaves(group: Any, path: str) -> list[str]:
        found = []
        for name, sub in group.commands.items():
            found += (
                leaves(sub, f"{path} {name}") if hasattr(sub, "commands") else [f"{path} {name}"]
            )
        return found

    for command in leaves(main, "bankfeeds"):
        assert f"| `{command}" in cli, f"{command} is missing from docs/CLI.md"
    worker_doc = (ROOT / "docs" / "WORKER.md").read_text(encoding="utf-8")
    for job in registry.JOBS:
        assert f"| `{job.name}` | `{job.command}` |" in worker_doc
    assert {(command, f.__name__) for command, f in JOBS.items()} == {
        (job.command, job.name) for job in registry.JOBS
    }
    crons = {cron.name for cron in cron_jobs(Settings())}
    assert crons == {f"cron:{job.name}" for job in registry.JOBS}, "each job has its schedule"


def _tasks(tmp_path: Path, monkeypatch: Any) -> tuple[Any, list[list[str]]]:
    """tasks.py with its .venv in tmp_path and every command recorded instead of run."""
    spec = importlib.util.spec_from_file_location("tasks_under_test", ROOT / "tasks.py")
    assert spec and spec.loader
    tasks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tasks)
    venv = tmp_path / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").touch()
    monkeypatch.setattr(tasks, "VENV", venv)
    monkeypatch.setattr(tasks, "BIN", venv / "bin")
    monkeypatch.setattr(tasks, "STAMP", venv / ".installed")
    monkeypatch.setattr(tasks, "BROWSER_STAMP", tmp_path / "browser.installed")
    ran: list[list[str]] = []

    def record(cmd: list[str], **kw: Any) -> Any:
        ran.append([str(c) for c in cmd])
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(tasks.subprocess, "run", record)
    monkeypatch.setattr(tasks.subprocess, "call", lambda cmd, **kw: record(cmd).returncode)
    return tasks, ran


def test_run_installs_the_service_alone_and_test_adds_the_dev_extras(
    tmp_path: Path, monkeypatch: Any
) -> None:
    tasks, ran = _tasks(tmp_path, monkeypatch)
    monkeypatch.setattr(tasks.shutil, "which", lambda name: None)  # no npm: skipped quietly
    assert tasks.main(["run"]) == 0
    installs = [c for c in ran if "-e" in c]
    assert installs == [[*installs[0][:-1], str(ROOT)]], "run: no [dev] extras"
    assert ran[-1][-2:] == [str(tmp_path / ".venv" / "bin" / "bankfeeds"), "dev"][-2:]

    ran.clear()
    assert tasks.main(["run"]) == 0
    assert not [c for c in ran if "-e" in c], "installed once"

    assert tasks.main(["test", "-q"]) == 0
    assert [c[-1] for c in ran if "-e" in c] == [f"{ROOT}[dev]"]
    assert not [c for c in ran if "npm" in c[0]]
    ran.clear()
    assert tasks.main(["lint"]) == 0
    assert not [c for c in ran if "-e" in c], "dev extras already there"


def test_test_installs_the_browser_package_with_npm_once(tmp_path: Path, monkeypatch: Any) -> None:
    tasks, ran = _tasks(tmp_path, monkeypatch)
    monkeypatch.setattr(tasks.shutil, "which", lambda name: "/usr/bin/npm")
    assert tasks.main(["test"]) == 0
    npm = [c for c in ran if c[0] == "/usr/bin/npm"]
    assert npm and npm[0][1:4] == ["ci", "--prefix", str(ROOT / "tests" / "browser")]
    ran.clear()
    assert tasks.main(["test"]) == 0
    assert not [c for c in ran if c[0] == "/usr/bin/npm"], "only when the lock file changes"


def test_nothing_points_outside_the_repository() -> None:
    """No file the repository tracks names the shared folder beside it or this machine's paths."""
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    outside = re.compile(r"\.\./shared|/work/|BANKFEEDS_REFERENCE_DIR")
    found = [
        name
        for name in tracked
        if name != "tests/test_packaging.py"
        and (ROOT / name).is_file()
        and not name.endswith((".png", ".mo"))
        and outside.search((ROOT / name).read_text(encoding="utf-8", errors="ignore"))
    ]
    assert not found, f"paths outside the repository in {found}"
