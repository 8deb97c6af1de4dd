"""The bankfeeds command: tenants and keys, against the same database the tests use."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import clock, instance, migrate
from app.cli import main
from app.config import Settings, get_settings
from app.db import transaction
from app.jobruns import repository as jobruns
from tests.helpers.builders import created_tenant
from tests.helpers.clients import basic
from tests.helpers.logs import remember_secret
from tests.helpers.portal import Staff


def test_tenants_create_prints_keys_once_as_json(cli: Any) -> None:
    out = created_tenant(cli("tenants", "create", "CLI Lender One", "--json").stdout)
    assert out["name"] == "CLI Lender One"
    assert out["apiKey"].startswith("bfk_live_")
    assert out["sandboxApiKey"].startswith("bfk_test_")
    assert set(out["partnerKeys"]) == {"production", "sandbox"}
    assert all(not any(c.isspace() for c in k) for k in out["partnerKeys"].values())
    listed = cli("tenants", "keys", "list", "CLI Lender One", "--json").stdout
    assert out["apiKey"] not in listed, "keys are never shown again"
    assert len(json.loads(listed)) == 2

    again = cli("tenants", "create", "CLI Lender One", ok=False)
    assert again.exit_code != 0
    assert "already exists" in again.output


async def test_keys_add_revoke_and_limit(cli: Any, client: httpx.AsyncClient) -> None:
    async def run(*args: str, ok: bool = True) -> Any:
        # The CLI runs its own event loop, so it gets a thread of its own here.
        return await asyncio.to_thread(cli, *args, ok=ok)

    out = created_tenant((await run("tenants", "create", "CLI Lender Two", "--json")).stdout)
    added = json.loads((await run("tenants", "keys", "add", out["tenantId"], "--json")).stdout)
    assert (await client.get("/companies", headers=basic(added["apiKey"]))).status_code == 200

    keys = json.loads((await run("tenants", "keys", "list", "CLI Lender Two", "--json")).stdout)
    newest = keys[-1]
    assert added["apiKey"].startswith(newest["prefix"])
    assert newest["revoked"] is None
    await run("tenants", "keys", "revoke", "CLI Lender Two", newest["keyId"])
    assert (await client.get("/companies", headers=basic(added["apiKey"]))).status_code == 401
    assert (await client.get("/companies", headers=basic(out["apiKey"]))).status_code == 200

    for _ in range(8):
        await run("tenants", "keys", "add", "CLI Lender Two", "--environment", "sandbox")
    over = await run("tenants", "keys", "add", "CLI Lender Two", ok=False)
    assert over.exit_code != 0
    assert "10 active API keys" in over.output

    missing = await run("tenants", "keys", "revoke", "CLI Lender Two", "not-an-id", ok=False)
    assert missing.exit_code != 0


def test_partner_key_rotation_and_unknown_tenant(cli: Any) -> None:
    cli("tenants", "create", "CLI Lender Three")
    rotated = json.loads(
        cli(
            "tenants",
            "partner-keys",
            "rotate",
            "CLI Lender Three",
            "--environment",
            "sandbox",
            "--json",
        ).stdout
    )
    assert rotated["partnerKey"].startswith("bfp_test_")
    unknown = cli("tenants", "keys", "list", "Nobody", ok=False)
    assert unknown.exit_code != 0
    assert "no tenant 'Nobody'" in unknown.output
    bad_zone = cli("tenants", "create", "Zoned", "--time-zone", "Mars/Base", ok=False)
    assert bad_zone.exit_code != 0


async def _set_run(sessions: async_sessionmaker[AsyncSession], job: str, at: datetime) -> None:
    row = {"job": job, "runner": "worker", "started_at": at, "finished_at": at, "seconds": 1.5}
    row.update(outcome="ok", error=None, result={"transactions": 3})
    async with transaction(sessions) as session:
        await jobruns.record(session, row)


async def test_doctor_says_what_is_wrong(
    cli: Any,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("REDIS_URL", settings.redis_url or "")
    monkeypatch.setenv("BANKFEEDS_REDIS_PREFIX", settings.redis_prefix)
    await _set_run(sessions, "daily_send", clock.now() - timedelta(days=2))
    await _set_run(sessions, "deliver_webhooks", clock.now())
    result = await asyncio.to_thread(cli, "doctor", ok=False)
    lines = result.output.splitlines()
    assert any(line.startswith("ok") and "database reachable" in line for line in lines), lines
    assert any(line.startswith("ok") and "schema up to date" in line for line in lines), lines
    assert any(line.startswith("ok") and "Redis reachable" in line for line in lines), lines
    no_worker = [line for line in lines if "no worker heartbeat" in line]
    assert no_worker and no_worker[0].startswith("FAIL"), lines
    stale = [line for line in lines if line.startswith("FAIL") and "daily_send last ran" in line]
    assert stale and "48.0 h ago" in stale[0], lines
    assert any(line.startswith("ok") and "deliver_webhooks last ran at" in line for line in lines)
    assert result.exit_code == 1

    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    monkeypatch.delenv("BANKFEEDS_DB_SCHEMA", raising=False)
    head = ScriptDirectory.from_config(migrate.alembic_config(settings)).get_current_head()
    assert head not in ("0006", None)
    await asyncio.to_thread(cli, "migrate", "--revision", "0006")
    behind = await asyncio.to_thread(cli, "doctor", ok=False)
    assert f"FAIL  database schema at 0006, the code needs {head}: run `bankfeeds migrate`" in (
        behind.output
    )
    monkeypatch.setenv("BANKFEEDS_DAILY_SEND_TIME", "25:99")
    invalid = await asyncio.to_thread(cli, "doctor", ok=False)
    assert invalid.exit_code == 1 and "configuration is invalid" in invalid.output
    assert "daily_send_time" in invalid.output, "it names the setting"
    monkeypatch.delenv("BANKFEEDS_DAILY_SEND_TIME")

    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    down = await asyncio.to_thread(cli, "doctor", ok=False)
    assert "Redis unreachable" in down.output and "degraded, not down" in down.output
    assert down.exit_code == 1


async def test_portal_users_add_list_remove(cli: Any, app: Any) -> None:
    async def run(*args: str, ok: bool = True, stdin: str | None = None) -> Any:
        def invoke() -> Any:
            result = CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)
            if ok:
                assert result.exit_code == 0, result.output
            return result

        return await asyncio.to_thread(invoke)

    await run("tenants", "create", "CLI Lender Portal")
    made = json.loads(
        (
            await run("tenants", "users", "add", "CLI Lender Portal", "Ops@Lender.test", "--json")
        ).stdout
    )
    assert made["email"] == "ops@lender.test" and len(made["password"]) >= 12
    remember_secret(made["password"])
    short = await run(
        "tenants",
        "users",
        "add",
        "CLI Lender Portal",
        "b@lender.test",
        "--password-stdin",
        ok=False,
        stdin="short\n",
    )
    assert short.exit_code != 0 and "at least 12 characters" in short.output
    twice = await run("tenants", "users", "add", "CLI Lender Portal", "ops@lender.test", ok=False)
    assert "already exists" in twice.output
    listed = (await run("tenants", "users", "list", "CLI Lender Portal", "--json")).stdout
    assert made["password"] not in listed and "$argon2" not in listed
    assert [u["email"] for u in json.loads(listed)] == ["ops@lender.test"]

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as http:
        staff = Staff(http, "ops@lender.test", made["password"])
        assert (await staff.sign_in()).status_code == 303
        await run("tenants", "users", "remove", "CLI Lender Portal", "ops@lender.test")
        assert (await staff.get("/portal/companies")).status_code == 303, "signed out at once"


def _isolated_cli(monkeypatch: pytest.MonkeyPatch, cwd: Path) -> Any:
    """The CLI in `cwd` with nothing configured: the embedded SQLite defaults."""
    for name in list(os.environ):
        if name.startswith("BANKFEEDS_") or name in ("DATABASE_URL", "REDIS_URL"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(cwd)
    runner = CliRunner()

    monkeypatch.setenv("XDG_STATE_HOME", str(cwd / "state"))  # no other test's dev records

    def run(*args: str, ok: bool = True) -> Any:
        # Each command is a process of its own: nothing carries over from the one before.
        monkeypatch.delenv("BANKFEEDS_DATA_DIR", raising=False)
        get_settings.cache_clear()
        result = runner.invoke(main, list(args), catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return run


def test_data_dir_before_or_after_the_sub_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run = _isolated_cli(monkeypatch, tmp_path)
    run("--data-dir", "one", "migrate")
    run("migrate")
    before = run("--data-dir", "one", "tenants", "create", "Before", "--json")
    after = run("tenants", "create", "After", "--json", "--data-dir", "one")
    for made in (before, after):
        created_tenant(made.stdout)
        assert f"Database: SQLite at {tmp_path / 'one' / 'bankfeeds.db'}" in made.stderr
    listed = json.loads(run("tenants", "list", "--json", "--data-dir", "one").stdout)
    assert sorted(t["name"] for t in listed) == ["After", "Before"]
    assert json.loads(run("tenants", "list", "--json").stdout) == [], "the default is another"
    assert (tmp_path / ".bankfeeds" / "bankfeeds.db").exists()


def test_the_cli_hands_settings_down_without_writing_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Settings travel in click's context: a command leaves the environment as it found it, and
    the next command (no --data-dir) does not inherit the last one's choice."""
    for name in list(os.environ):
        if name.startswith("BANKFEEDS_") or name in ("DATABASE_URL", "REDIS_URL"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    for where in (["--data-dir", "one"], []):
        assert CliRunner().invoke(main, [*where, "migrate"]).exit_code == 0
    before = dict(os.environ)
    made = CliRunner().invoke(main, ["--data-dir", "one", "tenants", "create", "Kept", "--json"])
    assert made.exit_code == 0, made.output
    assert dict(os.environ) == before
    listed = CliRunner().invoke(main, ["tenants", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout) == [], "the default data dir, not the last command's"
    assert dict(os.environ) == before


def test_commands_find_the_data_dir_dev_recorded(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run = _isolated_cli(monkeypatch, tmp_path)
    instance.write(instance.Instance(tmp_path / "devdata", "http://127.0.0.1:8123", None, None))
    run("migrate")  # into the recorded data dir
    made = created_tenant(run("tenants", "create", "Found", "--json").stdout)
    assert (tmp_path / "devdata" / "bankfeeds.db").exists()
    listed = run("tenants", "list").output
    assert made["tenantId"] in listed
    assert f"Database: SQLite at {tmp_path / 'devdata' / 'bankfeeds.db'}" in listed
    sent = run("jobs", "run", "daily-send")
    assert "devdata" in sent.stderr
    # An explicit choice still wins over the marker (and is refused: it has no database).
    elsewhere = run("tenants", "list", "--data-dir", "elsewhere", ok=False)
    assert elsewhere.exit_code == 1 and "Found" not in elsewhere.output
    assert f"looked at SQLite at {tmp_path / 'elsewhere' / 'bankfeeds.db'}" in elsewhere.output
    assert not (tmp_path / "elsewhere").exists(), "nothing is created by a refused command"


def test_a_postgres_url_is_shown_without_its_password(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _isolated_cli(monkeypatch, tmp_path)
    settings = Settings(database_url="postgresql://app:s3cret-pw@db.internal:5432/feeds")
    shown = instance.describe_database(settings)
    assert "s3cret-pw" not in shown
    assert shown == "postgresql+asyncpg://app:***@db.internal:5432/feeds"
