"""`bankfeeds doctor`: is this installation ready to serve?"""

from __future__ import annotations

import asyncio

import click

from app import instance
from app.cli.common import pass_settings, require_schema, say_database
from app.config import Settings


@click.command()
@pass_settings
def doctor(settings: Settings) -> None:
    """Check configuration, database, migrations, Redis, the worker and clocks; exit 1 on a
    problem."""
    from app import doctor as checks

    say_database(settings)
    if settings.is_sqlite:  # a missing file is refused, not created (PostgreSQL: checked below)
        require_schema(settings, upgrade=False)
    dev = instance.serving(settings.data_dir)
    if not settings.redis_url and dev is not None and dev.redis_url:
        # The embedded Redis of the `bankfeeds dev` using this data dir (from any folder).
        click.echo(f"Redis: {dev.redis_url} (of `bankfeeds dev` at {dev.url})", err=True)
        settings = settings.model_copy(update={"redis_url": dev.redis_url})

    def say(passed: bool | None, message: str) -> None:
        click.echo(f"{'warn' if passed is None else 'ok  ' if passed else 'FAIL'}  {message}")

    if not asyncio.run(checks.run(settings, say)):
        raise SystemExit(1)
