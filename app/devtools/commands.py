"""The development commands, `bankfeeds demo` and `bankfeeds sandbox`.

The production CLI never imports this package: it finds these commands through the
`bankfeeds.commands` entry points (pyproject.toml), the way click plugins are found."""

from __future__ import annotations

import asyncio
from typing import Any

import click
from sqlalchemy.ext.asyncio import AsyncSession

from app import instance
from app.cli.common import for_people, in_transaction, pass_settings
from app.config import Settings
from app.devtools import demo as story
from app.devtools.sandbox import sandbox_group
from app.tenants import service as tenants

__all__ = ["demo", "sandbox_group"]


@click.command()
@click.option(
    "--url",
    default=None,
    help="The running service (default: the `bankfeeds dev` started from this directory, "
    "else http://127.0.0.1:8000).",
)
@pass_settings
def demo(settings: Settings, url: str | None) -> None:
    """Run the whole story against the running service, printing each step: tenant, company,
    connection, accounts, credentials, the sandbox QuickBooks links, a push dated relative to
    today, the daily send, QuickBooks shows the transactions, revoke, 401."""
    from app.worker import JOBS, build_ctx, shutdown

    settings = for_people(settings)
    dev = instance.serving(settings.data_dir) or instance.running()
    url = url or (dev.url if dev is not None and dev.url else "http://127.0.0.1:8000")

    def make_tenant(name: str) -> dict[str, Any]:
        async def work(session: AsyncSession, given: Settings) -> tenants.NewTenant:
            return await tenants.create_tenant(
                session, name, given.default_time_zone, given.max_api_keys
            )

        made = in_transaction(work)
        return {
            "name": made.tenant.name,
            "apiKey": made.api_keys["production"],
            "partnerKeys": made.partner_keys,
        }

    def daily_send() -> dict[str, Any]:
        async def run() -> dict[str, Any]:
            ctx: dict[str, Any] = {}
            await build_ctx(ctx, settings)
            try:
                return await JOBS["daily-send"](ctx)  # type: ignore[no-any-return]
            finally:
                await shutdown(ctx)

        return asyncio.run(run())

    story.run(url, make_tenant, daily_send)
