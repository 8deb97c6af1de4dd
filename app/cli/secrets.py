"""`bankfeeds secrets rotate`: re-seal every sealed value under the newest key."""

from __future__ import annotations

import asyncio

import click

from app import migrate
from app.cli.common import pass_settings, say_database
from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.sealing.jobs import reseal


@click.group("secrets")
def secrets_group() -> None:
    """Secrets at rest (account numbers, webhook signing secrets) under BANKFEEDS_SECRET_KEYS."""


@secrets_group.command("rotate")
@pass_settings
def rotate(settings: Settings) -> None:
    """Re-seal every sealed value under the first key of BANKFEEDS_SECRET_KEYS (values in the
    clear are sealed too), in short batches beside the running service. Then the older keys can
    be dropped from BANKFEEDS_SECRET_KEYS. Fails if some value opens with none of the keys."""
    if not settings.secret_key_list:
        raise click.ClickException("BANKFEEDS_SECRET_KEYS is not set: there is no key to seal with")
    say_database(settings)
    if settings.is_sqlite:
        migrate.upgrade(settings)

    async def run() -> dict[str, int]:
        engine = make_engine(settings)
        try:
            return await reseal(make_sessionmaker(engine), settings)
        finally:
            await engine.dispose()

    counts = asyncio.run(run())
    click.echo(", ".join(f"{k} {v}" for k, v in counts.items()))
    if any(v for k, v in counts.items() if k.endswith("Unreadable")):
        raise click.ClickException(
            "some values open with none of the keys: keep the old keys until they are found"
        )
