"""`bankfeeds companies export`: a company's export written to a file (or stdout), streamed."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path
from typing import BinaryIO

import click

from app import migrate, vault
from app.access import service as access
from app.cli.common import pass_settings, say_database
from app.config import Settings
from app.db import make_engine, make_sessionmaker, transaction
from app.exports import service


@click.group("companies")
def companies_group() -> None:
    """A company's data: export it for portability."""


async def _export(
    settings: Settings, company_id: uuid.UUID, table: str | None, out: BinaryIO
) -> None:
    engine = make_engine(settings)
    sessions = make_sessionmaker(engine)
    try:
        async with transaction(sessions) as session:
            company = await service.company(session, company_id)
            if company is None:
                raise click.ClickException(f"No company was found with ID {company_id}")
            await access.record_access(
                session,
                company.tenant_id,
                company.environment,
                company.id,
                actor_kind="operator",
                actor="cli",
                action="export",
                route="bankfeeds companies export",
            )
        async with transaction(sessions) as session:
            chunks = (
                service.json_chunks(session, company_id)
                if table is None
                else service.csv_chunks(session, company_id, table)
            )
            async for chunk in chunks:
                out.write(chunk)
    finally:
        await engine.dispose()


@companies_group.command("export")
@click.argument("company_id")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File to write (default: standard output).",
)
@click.option(
    "--csv",
    "table",
    type=click.Choice(list(service.TABLES)),
    default=None,
    help="Write this one table as CSV instead of the JSON document.",
)
@pass_settings
def export(settings: Settings, company_id: str, out: Path | None, table: str | None) -> None:
    """Export COMPANY_ID: the versioned JSON document (docs/COMPLIANCE.md), or one table as CSV.
    Recorded in the access log as the operator's."""
    try:
        parsed = uuid.UUID(company_id)
    except ValueError as exc:
        raise click.BadParameter(f"{company_id!r} is not a company id") from exc
    say_database(settings)
    if settings.is_sqlite:
        migrate.upgrade(settings)
    vault.configure(settings)
    if out is None:
        asyncio.run(_export(settings, parsed, table, sys.stdout.buffer))
        return
    with out.open("wb") as handle:
        asyncio.run(_export(settings, parsed, table, handle))
    click.echo(f"exported company {parsed} to {out}", err=True)
