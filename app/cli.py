"""The `bankfeeds` command: run the service, migrate, and manage tenants and their keys."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app import instance, migrate
from app.config import Settings, get_settings
from app.db import make_engine, make_sessionmaker, transaction
from app.errors import ApiError
from app.idx.sandbox import sandbox_group
from app.portal import service as portal
from app.tenants import repository as tenants_repo
from app.tenants import service as tenants
from app.tenants.tables import ENVIRONMENTS

T = TypeVar("T")

host_option = click.option("--host", default="127.0.0.1", show_default=True)
port_option = click.option("--port", default=8000, show_default=True, type=int)
data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory for the embedded SQLite file and Redis (default: the one `bankfeeds dev` "
    "last used in this directory, else .bankfeeds).",
)


def _use_data_dir(data_dir: Path | None) -> Settings:
    """--data-dir, else BANKFEEDS_DATA_DIR, else the data dir `bankfeeds dev` recorded in this
    working directory (.bankfeeds-dev.json), else the default."""
    if data_dir is not None:
        os.environ["BANKFEEDS_DATA_DIR"] = str(data_dir)
    elif "BANKFEEDS_DATA_DIR" not in os.environ and (found := instance.read()) is not None:
        os.environ["BANKFEEDS_DATA_DIR"] = str(found.data_dir)
    get_settings.cache_clear()
    return _settings()


def _settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as exc:  # pydantic names each wrong setting and says why
        raise click.ClickException(f"configuration is invalid: {exc}") from exc


def _data_dir_after(ctx: click.Context, param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        _use_data_dir(value)


def _say_database(settings: Settings) -> None:
    """Every command that touches data says which database (on stderr: --json stays clean)."""
    click.echo(f"Database: {instance.describe_database(settings)}", err=True)


def _in_transaction(work: Callable[[AsyncSession, Settings], Awaitable[T]]) -> T:
    """Run one unit of work against the configured database (migrating an embedded one first)."""
    settings = _settings()
    _say_database(settings)
    if settings.is_sqlite:
        migrate.upgrade(settings)

    async def run() -> T:
        engine = make_engine(settings)
        try:
            async with transaction(make_sessionmaker(engine)) as session:
                return await work(session, settings)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except (ApiError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
@data_dir_option
def main(data_dir: Path | None) -> None:
    """Bank-feeds connector: a Codat-compatible Bank Feeds API for QuickBooks Online."""
    _use_data_dir(data_dir)


def _start_embedded_redis(settings: Settings) -> Any:
    from app.embedded_redis import EmbeddedRedis

    server = EmbeddedRedis(settings.data_dir / "redis").start()
    os.environ["REDIS_URL"] = server.url
    get_settings.cache_clear()
    return server


async def _serve_with_worker(host: str, port: int) -> None:
    import uvicorn

    from app.main import create_app
    from app.worker import make_worker

    server = uvicorn.Server(uvicorn.Config(create_app(), host=host, port=port, log_config=None))
    worker = make_worker(handle_signals=False)
    worker_task = asyncio.create_task(worker.async_run())
    try:
        await server.serve()
    finally:
        worker_task.cancel()
        await asyncio.gather(worker_task, return_exceptions=True)
        await worker.close()


def _exit_quietly(signum: int, frame: object) -> None:
    raise SystemExit(0)


@main.command()
@host_option
@port_option
@data_dir_option
def dev(host: str, port: int, data_dir: Path | None) -> None:
    """API, Link pages and worker on SQLite and an embedded Redis: nothing else to install."""
    settings = _use_data_dir(data_dir)
    click.echo(f"Database: {instance.describe_database(settings)}")
    migrate.upgrade(settings)
    redis_server = None
    if not settings.redis_url:
        redis_server = _start_embedded_redis(settings)
        click.echo(f"Redis: embedded server at {redis_server.socket}")
    base = f"http://{host}:{port}"
    data_dir_abs = settings.data_dir.resolve()
    instance.write(instance.Instance(data_dir_abs, base, get_settings().redis_url, os.getpid()))
    click.echo(
        f"\nBank Feeds Connector on {base}  (OpenAPI: {base}/openapi.json)\n"
        f"Commands run in this directory use this instance ({instance.MARKER} records it).\n"
        f"Create a tenant and its API key in another terminal:\n"
        f"    {_command_name()} tenants create 'My Lending App'\n"
        f"Or watch the whole story run against it:  {_command_name()} demo\n"
    )
    os.environ.setdefault("BANKFEEDS_PUBLIC_BASE_URL", base)
    get_settings.cache_clear()
    # uvicorn re-raises SIGTERM after a graceful shutdown; turning it into SystemExit lets the
    # embedded Redis below be stopped instead of orphaned.
    signal.signal(signal.SIGTERM, _exit_quietly)
    try:
        asyncio.run(_serve_with_worker(host, port))
    finally:
        if redis_server is not None:
            redis_server.stop()
        instance.write(instance.Instance(data_dir_abs))  # the data stays; the URL is gone


def _command_name() -> str:
    """How to type this command here: `bankfeeds` when it is on PATH, else through tasks.py."""
    on_path = shutil.which("bankfeeds")
    if on_path and Path(on_path).resolve() == Path(sys.argv[0]).resolve():
        return "bankfeeds"
    if Path("tasks.py").exists():
        return "python3 tasks.py bankfeeds"
    return sys.argv[0]


@main.command()
@host_option
@port_option
@data_dir_option
@click.option("--workers", default=1, show_default=True, type=int, help="uvicorn processes.")
def serve(host: str, port: int, data_dir: Path | None, workers: int) -> None:
    """The API and Link pages under uvicorn (production: PostgreSQL and REDIS_URL)."""
    import uvicorn

    settings = _use_data_dir(data_dir)
    if not settings.redis_url:
        raise click.ClickException("REDIS_URL is not set (or use `bankfeeds dev`).")
    uvicorn.run(
        "app.main:create_app", factory=True, host=host, port=port, workers=workers, log_config=None
    )


@main.command("migrate")
@click.option("--revision", default="head", show_default=True)
def migrate_command(revision: str) -> None:
    """Bring the database schema up to date (Alembic)."""
    settings = _settings()
    _say_database(settings)
    migrate.upgrade(settings, revision)
    click.echo(f"database at revision {revision}")


@main.command()
def worker() -> None:
    """The arq worker: rides out Redis outages of any length, logs JSON from its first line."""
    from app.logs import setup_logging
    from app.worker import make_worker

    settings = get_settings()
    if not settings.redis_url:
        raise click.ClickException("REDIS_URL is not set (or use `bankfeeds dev`).")
    setup_logging(settings.log_level)  # before arq's start-up lines, not at on_startup
    make_worker(settings).run()


@main.group("tenants")
def tenants_group() -> None:
    """Client apps (tenants), their API keys and Intuit partner keys."""


def _print(data: Any, as_json: bool, lines: list[str]) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo("\n".join(lines))


@tenants_group.command("create")
@click.argument("name")
@click.option("--time-zone", default=None, help="IANA zone for 'today' (default America/Toronto).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object, for scripts.")
def tenants_create(name: str, time_zone: str | None, as_json: bool) -> None:
    """Create a tenant; prints its API keys and partner keys ONCE."""

    async def work(session: AsyncSession, settings: Settings) -> tenants.NewTenant:
        zone = time_zone or settings.default_time_zone
        Settings(default_time_zone=zone)  # validates the zone name
        return await tenants.create_tenant(session, name, zone, settings.max_api_keys)

    made = _in_transaction(work)
    data = {
        "tenantId": str(made.tenant.id),
        "name": made.tenant.name,
        "timeZone": made.tenant.time_zone,
        "apiKey": made.api_keys["production"],
        "sandboxApiKey": made.api_keys["sandbox"],
        "partnerKeys": made.partner_keys,
    }
    _print(
        data,
        as_json,
        [
            f"Tenant {made.tenant.name} ({made.tenant.id}), time zone {made.tenant.time_zone}",
            "",
            "These secrets are shown once. Store them now.",
            f"  API key (production):        {made.api_keys['production']}",
            f"  API key (sandbox):           {made.api_keys['sandbox']}",
            f"  Intuit partner key (production): {made.partner_keys['production']}",
            f"  Intuit partner key (sandbox):    {made.partner_keys['sandbox']}",
            "",
            'Call the API with:  Authorization: Basic $(printf %s "$API_KEY" | base64 -w0)',
        ],
    )


@tenants_group.command("list")
@click.option("--json", "as_json", is_flag=True)
def tenants_list(as_json: bool) -> None:
    """List tenants."""

    async def work(session: AsyncSession, _: Settings) -> list[dict[str, str]]:
        return [
            {"tenantId": str(t.id), "name": t.name, "timeZone": t.time_zone}
            for t in await tenants_repo.list_all(session)
        ]

    rows = _in_transaction(work)
    _print(rows, as_json, [f"{r['tenantId']}  {r['name']}  {r['timeZone']}" for r in rows])


@tenants_group.group("keys")
def keys_group() -> None:
    """Add, list or revoke a tenant's API keys (at most 10 active)."""


@keys_group.command("add")
@click.argument("tenant")
@click.option(
    "--environment", type=click.Choice(ENVIRONMENTS), default="production", show_default=True
)
@click.option("--json", "as_json", is_flag=True)
def keys_add(tenant: str, environment: str, as_json: bool) -> None:
    """Add an API key to TENANT (name or id); prints it once."""

    async def work(session: AsyncSession, settings: Settings) -> tuple[Any, str]:
        return await tenants.add_api_key(session, tenant, environment, settings.max_api_keys)

    row, key = _in_transaction(work)
    _print(
        {"tenantId": str(row.id), "environment": environment, "apiKey": key},
        as_json,
        [f"New {environment} API key for {row.name} (shown once): {key}"],
    )


@keys_group.command("list")
@click.argument("tenant")
@click.option("--json", "as_json", is_flag=True)
def keys_list(tenant: str, as_json: bool) -> None:
    """List TENANT's keys: id, environment, prefix, created, revoked (never the key)."""

    async def work(session: AsyncSession, _: Settings) -> list[dict[str, str | None]]:
        row = await tenants.get_tenant(session, tenant)
        return [
            {
                "keyId": str(k.id),
                "environment": k.environment,
                "prefix": k.prefix,
                "created": k.created_at.isoformat(),
                "revoked": k.revoked_at.isoformat() if k.revoked_at else None,
            }
            for k in await tenants_repo.keys_of(session, row.id)
        ]

    rows = _in_transaction(work)
    _print(
        rows,
        as_json,
        [
            f"{r['keyId']}  {r['environment']:<10}  {r['prefix']}…  created {r['created']}"
            + (f"  revoked {r['revoked']}" if r["revoked"] else "")
            for r in rows
        ],
    )


@keys_group.command("revoke")
@click.argument("tenant")
@click.argument("key_id")
def keys_revoke(tenant: str, key_id: str) -> None:
    """Revoke one of TENANT's keys by its id (see `keys list`); effective at once."""

    async def work(session: AsyncSession, _: Settings) -> None:
        await tenants.revoke_api_key(session, tenant, key_id)

    _in_transaction(work)
    click.echo(f"revoked key {key_id}")


@tenants_group.group("partner-keys")
def partner_keys_group() -> None:
    """The Intuit partner keys QuickBooks sends as X-Partner-Key."""


@partner_keys_group.command("rotate")
@click.argument("tenant")
@click.option("--environment", type=click.Choice(ENVIRONMENTS), required=True)
@click.option("--json", "as_json", is_flag=True)
def partner_keys_rotate(tenant: str, environment: str, as_json: bool) -> None:
    """Replace TENANT's partner key for one environment; the old one stops working at once."""

    async def work(session: AsyncSession, _: Settings) -> str:
        return await tenants.rotate_partner_key(session, tenant, environment)

    key = _in_transaction(work)
    _print(
        {"environment": environment, "partnerKey": key},
        as_json,
        [f"New {environment} partner key (shown once): {key}"],
    )


@tenants_group.group("users")
def users_group() -> None:
    """Staff of a tenant who sign in to the client portal (/portal)."""


@users_group.command("add")
@click.argument("tenant")
@click.argument("email")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input; otherwise one is generated and shown once.",
)
@click.option("--json", "as_json", is_flag=True)
def users_add(tenant: str, email: str, password_stdin: bool, as_json: bool) -> None:
    """Add a portal user to TENANT; passwords have at least 12 characters (argon2-hashed)."""
    given = sys.stdin.readline().rstrip("\r\n") if password_stdin else None

    async def work(session: AsyncSession, _: Settings) -> tuple[Any, str]:
        return await portal.add_user(session, tenant, email, given)

    found, password = _in_transaction(work)
    data = {"tenant": found.name, "email": email.strip().lower()}
    lines = [f"Portal user {data['email']} added to {found.name}."]
    if given is None:
        data["password"] = password
        lines.append(f"Password (shown once): {password}")
    _print(data, as_json, lines)


@users_group.command("list")
@click.argument("tenant")
@click.option("--json", "as_json", is_flag=True)
def users_list(tenant: str, as_json: bool) -> None:
    """List TENANT's portal users (never their passwords)."""

    async def work(session: AsyncSession, _: Settings) -> list[dict[str, str | None]]:
        return [
            {
                "email": u.email,
                "createdOnUtc": u.created_at.isoformat(),
                "lastSignInOnUtc": u.last_sign_in_at.isoformat() if u.last_sign_in_at else None,
                "lockedUntilUtc": u.locked_until.isoformat() if u.locked_until else None,
            }
            for u in await portal.list_users(session, tenant)
        ]

    rows = _in_transaction(work)
    _print(rows, as_json, [f"{r['email']}  last sign-in {r['lastSignInOnUtc']}" for r in rows])


@users_group.command("remove")
@click.argument("tenant")
@click.argument("email")
def users_remove(tenant: str, email: str) -> None:
    """Remove a portal user; their sessions end at once."""

    async def work(session: AsyncSession, _: Settings) -> None:
        await portal.remove_user(session, tenant, email)

    _in_transaction(work)
    click.echo(f"removed portal user {email}")


@main.group("jobs")
def jobs_group() -> None:
    """Run one of the worker's jobs once, now or at a simulated time."""


async def _job_length(name: str, ctx: dict[str, Any]) -> int | None:
    from datetime import timedelta

    from app import clock
    from app.accounts import repository as accounts_repo
    from app.transactions.jobs import count_pending

    if name == "daily-send":
        return await count_pending(ctx["sessions"])
    if name == "detect-disconnects":
        cutoff = clock.now() - timedelta(days=ctx["settings"].disconnect_after_days)
        async with transaction(ctx["sessions"]) as session:
            return await accounts_repo.count_stale(session, cutoff)
    return None


@jobs_group.command("run")
@click.argument(
    "name",
    type=click.Choice(
        ["daily-send", "detect-disconnects", "deliver-webhooks", "purge-expired", "detect-stale"]
    ),
)
@click.option(
    "--now", "at", default=None, help="Run as if it were this ISO-8601 time (UTC if no offset)."
)
def jobs_run(name: str, at: str | None) -> None:
    """Run job NAME once (no Redis needed) and print a summary line."""
    from datetime import UTC, datetime

    from app import clock
    from app.worker import JOBS, build_ctx, shutdown

    settings = _settings()
    _say_database(settings)
    if settings.is_sqlite:
        migrate.upgrade(settings)
    if at:
        try:
            moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError as exc:
            raise click.BadParameter(f"{at!r} is not an ISO-8601 time", param_hint="--now") from exc
        clock.freeze(moment if moment.tzinfo else moment.replace(tzinfo=UTC))

    async def run() -> Any:
        ctx: dict[str, Any] = {"runner": "cli"}
        await build_ctx(ctx, settings)
        try:
            length = await _job_length(name, ctx) if sys.stderr.isatty() else None
            if length:
                with click.progressbar(length=length, label=name, file=sys.stderr) as bar:
                    ctx["progress"] = bar.update
                    return await JOBS[name](ctx)
            return await JOBS[name](ctx)
        finally:
            await shutdown(ctx)

    result = asyncio.run(run())
    click.echo(
        f"{name} at {clock.now().isoformat()}: " + ", ".join(f"{k} {v}" for k, v in result.items())
    )


@main.command()
def doctor() -> None:
    """Check configuration, database, migrations, Redis, the worker and clocks."""
    from app import doctor as checks

    settings = _settings()
    _say_database(settings)
    dev = instance.running()
    if not settings.redis_url and dev is not None and dev.redis_url:
        # The embedded Redis of the `bankfeeds dev` running from this directory.
        click.echo(f"Redis: {dev.redis_url} (of `bankfeeds dev` at {dev.url})", err=True)
        settings = settings.model_copy(update={"redis_url": dev.redis_url})

    def say(passed: bool | None, message: str) -> None:
        click.echo(f"{'warn' if passed is None else 'ok  ' if passed else 'FAIL'}  {message}")

    if not asyncio.run(checks.run(settings, say)):
        raise SystemExit(1)


@main.command()
@click.option(
    "--url",
    default=None,
    help="The running service (default: the `bankfeeds dev` started from this directory, "
    "else http://127.0.0.1:8000).",
)
def demo(url: str | None) -> None:
    """Run the whole story against the running service, printing each step."""
    from app import demo as story
    from app.worker import JOBS, build_ctx, shutdown

    dev = instance.running()
    url = url or (dev.url if dev is not None and dev.url else "http://127.0.0.1:8000")

    def make_tenant(name: str) -> dict[str, Any]:
        async def work(session: AsyncSession, settings: Settings) -> tenants.NewTenant:
            return await tenants.create_tenant(
                session, name, settings.default_time_zone, settings.max_api_keys
            )

        made = _in_transaction(work)
        return {
            "name": made.tenant.name,
            "apiKey": made.api_keys["production"],
            "partnerKeys": made.partner_keys,
        }

    def daily_send() -> dict[str, Any]:
        async def run() -> dict[str, Any]:
            ctx: dict[str, Any] = {}
            await build_ctx(ctx, _settings())
            try:
                return await JOBS["daily-send"](ctx)  # type: ignore[no-any-return]
            finally:
                await shutdown(ctx)

        return asyncio.run(run())

    story.run(url, make_tenant, daily_send)


main.add_command(sandbox_group)


def _accept_data_dir_everywhere(group: click.Group) -> None:
    """`bankfeeds tenants create X --data-dir D` works as `bankfeeds --data-dir D tenants ...`."""
    for command in group.commands.values():
        if isinstance(command, click.Group):
            _accept_data_dir_everywhere(command)
        elif not any(p.name == "data_dir" for p in command.params):
            command.params.append(
                click.Option(
                    ["--data-dir"],
                    type=click.Path(file_okay=False, path_type=Path),
                    expose_value=False,
                    is_eager=True,
                    callback=_data_dir_after,
                    help="As `bankfeeds --data-dir`, accepted here too.",
                )
            )


_accept_data_dir_everywhere(main)

if __name__ == "__main__":
    sys.exit(main())
