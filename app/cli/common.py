"""What every `bankfeeds` command shares: the options, the settings, one unit of work."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from functools import update_wrapper
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import click
from alembic.runtime.migration import MigrationContext
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app import instance, migrate
from app.config import Settings
from app.db import make_engine, make_sessionmaker, transaction
from app.kit.errors import ApiError

T = TypeVar("T")
P = ParamSpec("P")

host_option = click.option("--host", default="127.0.0.1", show_default=True)
port_option = click.option("--port", default=8000, show_default=True, type=int)
data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory for the embedded SQLite file and Redis (env BANKFEEDS_DATA_DIR; default: "
    "the one `bankfeeds dev` last used in this directory, else .bankfeeds).",
)


def load_settings(data_dir: Path | None = None) -> Settings:
    """The environment's settings, the data dir being --data-dir, else BANKFEEDS_DATA_DIR, else
    the one `bankfeeds dev` recorded in this working directory (.bankfeeds-dev.json), else the
    default. Nothing is written back to the environment: commands get these from click's context.
    """
    if data_dir is None and "BANKFEEDS_DATA_DIR" not in os.environ:
        found = instance.read()
        data_dir = found.data_dir if found is not None else None
    try:
        return Settings() if data_dir is None else Settings(data_dir=data_dir)
    except ValidationError as exc:  # pydantic names each wrong setting and says why
        raise click.ClickException(f"configuration is invalid: {exc}") from exc


def settings_of(ctx: click.Context) -> Settings:
    """The settings `main` put in click's context (ctx.obj), or read now for a command run alone."""
    found = ctx.find_object(Settings)
    if found is None:
        found = load_settings()
        if ctx.obj is None:
            ctx.obj = found
    return found


def current_settings() -> Settings:
    return settings_of(click.get_current_context())


def pass_settings(command: Callable[Concatenate[Settings, P], T]) -> Callable[P, T]:
    """Hands the command the settings from click's context as its first argument."""

    def with_settings(*args: P.args, **kwargs: P.kwargs) -> T:
        return command(current_settings(), *args, **kwargs)

    return update_wrapper(with_settings, command)


def data_dir_after(ctx: click.Context, param: click.Parameter, value: Path | None) -> None:
    """`--data-dir` given after the sub-command: this command's settings use it. They replace
    the Settings where this command finds them (its own context, or the nearest above whose
    object is not another kind, such as `sandbox qbo`'s)."""
    if value is None:
        return
    node: click.Context | None = ctx
    while node is not None and node.obj is not None and not isinstance(node.obj, Settings):
        node = node.parent
    (node or ctx).obj = load_settings(value)


def for_people(settings: Settings) -> Settings:
    """Commands whose output a person reads (jobs run, demo): log lines as text on stderr, and
    warnings only unless BANKFEEDS_LOG_LEVEL asks for more; the summary is theirs to print."""
    from app.logs import setup_logging

    level = settings.log_level if "BANKFEEDS_LOG_LEVEL" in os.environ else "WARNING"
    setup_logging(level, text=True)
    return settings.model_copy(update={"log_level": level})


def say_database(settings: Settings) -> None:
    """Every command that touches data says which database (on stderr: --json stays clean)."""
    click.echo(f"Database: {instance.describe_database(settings)}", err=True)


def _chosen_by(settings: Settings) -> str:
    """Why this data dir: what a newcomer in the wrong folder needs to hear."""
    recorded = instance.read()
    if recorded is not None and recorded.data_dir.resolve() == settings.data_dir.resolve():
        return f"recorded in {instance.MARKER.resolve()}"
    if "BANKFEEDS_DATA_DIR" in os.environ:
        return "BANKFEEDS_DATA_DIR"
    if settings.data_dir == Settings.model_fields["data_dir"].default:
        return "the default: no .bankfeeds-dev.json in this folder and no --data-dir"
    return "--data-dir"


async def _revision(settings: Settings) -> str | None:
    engine = make_engine(settings)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda c: MigrationContext.configure(c).get_current_revision()
            )
    finally:
        await engine.dispose()


def require_schema(settings: Settings, *, upgrade: bool = True) -> None:
    """Refuse a database that has no schema (nothing is created: not the data dir, not the
    SQLite file), naming where we looked and where a running `bankfeeds dev` is. An embedded
    database that is only behind is brought up to date (unless `upgrade` is false)."""
    where = instance.describe_database(settings)
    if settings.is_sqlite:
        exists = instance.sqlite_file(settings).is_file()
        revision = asyncio.run(_revision(settings)) if exists else None
    else:
        exists = True
        try:
            revision = asyncio.run(_revision(settings))
        except Exception as exc:  # unreachable: say which database, not a traceback
            raise click.ClickException(
                f"cannot reach the database {where} ({type(exc).__name__}): check DATABASE_URL "
                "and that the server is up (`bankfeeds doctor` says more)"
            ) from exc
    if revision is not None:
        if upgrade and settings.is_sqlite:
            migrate.upgrade(settings)
        return
    lines = [
        f"No bankfeeds database here: looked at {where}"
        + (
            f" (data dir {settings.data_dir.resolve()}, {_chosen_by(settings)})"
            if settings.is_sqlite and not settings.database_url
            else ""
        )
        + (", which has no tables." if exists else ", which does not exist."),
    ]
    others = instance.all_running()
    mine = instance.running()
    if mine is not None and mine not in others:
        others.insert(0, mine)
    for other in others:
        lines.append(f"A `bankfeeds dev` is running: {other.where()}.")
    if others:
        first = others[0]
        lines.append(
            f"Run this command in {first.folder or 'its folder'}, or add "
            f"--data-dir {first.data_dir}."
        )
    else:
        lines.append("No running `bankfeeds dev` is recorded.")
    lines.append(
        "To make a new, empty database here instead: `bankfeeds migrate` (or `bankfeeds dev`)."
    )
    raise click.ClickException("\n".join(lines))


def in_transaction(work: Callable[[AsyncSession, Settings], Awaitable[T]]) -> T:
    """Run one unit of work against the command's database (refused if it has no schema; an
    embedded one that is behind is migrated first)."""
    settings = current_settings()
    say_database(settings)
    require_schema(settings)

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


def show(data: Any, as_json: bool, lines: list[str]) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo("\n".join(lines))
