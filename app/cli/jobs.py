"""`bankfeeds jobs run`: one job now, in this process, as the worker would run it."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click

from app.cli.common import for_people, pass_settings, require_schema, say_database
from app.config import Settings
from app.db import transaction
from app.jobruns import registry


@click.group("jobs")
def jobs_group() -> None:
    """Run one of the worker's jobs once, now or at a simulated time."""


async def _job_length(name: str, ctx: dict[str, Any]) -> int | None:
    from datetime import timedelta

    from app import clock
    from app.accounts import service as accounts
    from app.idx.jobs import count_pending

    if name == "daily-send":
        return await count_pending(ctx["sessions"])
    if name == "detect-disconnects":
        cutoff = clock.now() - timedelta(days=ctx["settings"].disconnect_after_days)
        async with transaction(ctx["sessions"]) as session:
            return await accounts.count_stale(session, cutoff)
    return None


@jobs_group.command("run")
@click.argument(
    "name",
    type=click.Choice(list(registry.COMMANDS)),
)
@click.option(
    "--now",
    "at",
    default=None,
    metavar="ISO-8601",
    help="Run as if it were this ISO-8601 time (UTC if no offset).",
)
@pass_settings
def jobs_run(settings: Settings, name: str, at: str | None) -> None:
    """Run job NAME once (no Redis needed), optionally at a simulated time, and print a
    summary line."""
    from datetime import UTC, datetime

    from app import clock
    from app.worker import JOBS, build_ctx, shutdown

    say_database(settings)
    require_schema(settings)
    settings = for_people(settings)
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
