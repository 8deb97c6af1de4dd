"""What every `bankfeeds` command shares: the options, the settings, one unit of work."""

from __future__ import annotations

import asyncio
import json
import os
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


def use_data_dir(data_dir: Path | None) -> Settings:
    """--data-dir, else BANKFEEDS_DATA_DIR, else the data dir `bankfeeds dev` recorded in this
    working directory (.bankfeeds-dev.json), else the default."""
    if data_dir is not None:
        os.environ["BANKFEEDS_DATA_DIR"] = str(data_dir)
    elif "BANKFEEDS_DATA_DIR" not in os.environ and (found := instance.read()) is not None:
        os.environ["BANKFEEDS_DATA_DIR"] = str(found.data_dir)
    get_settings.cache_clear()
    return settings_or_exit()


def settings_or_exit() -> Settings:
    try:
        return get_settings()
    except ValidationError as exc:  # pydantic names each wrong setting and says why
        raise click.ClickException(f"configuration is invalid: {exc}") from exc


def data_dir_after(ctx: click.Context, param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        use_data_dir(value)


def say_database(settings: Settings) -> None:
    """Every command that touches data says which database (on stderr: --json stays clean)."""
    click.echo(f"Database: {instance.describe_database(settings)}", err=True)


def in_transaction(work: Callable[[AsyncSession, Settings], Awaitable[T]]) -> T:
    """Run one unit of work against the configured database (migrating an embedded one first)."""
    settings = settings_or_exit()
    say_database(settings)
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


def show(data: Any, as_json: bool, lines: list[str]) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo("\n".join(lines))
