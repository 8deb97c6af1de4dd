"""The ten-day disconnect detection (a daily arq cron job)."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import clock, lifecycle
from app.accounts import events, repository
from app.config import Settings
from app.db import transaction

log = logging.getLogger("app.jobs")


async def detect(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, progress: Any = None
) -> dict[str, Any]:
    """Connected accounts Intuit has not queried for `disconnect_after_days` become
    disconnected (their pending pushes fail); then Linked connections whose accounts are all
    disconnected become Unlinked. Each step announces itself by webhook."""
    started = time.perf_counter()
    cutoff = clock.now() - timedelta(days=settings.disconnect_after_days)
    totals = {"accounts": 0, "connections": 0, "failedOperations": 0}
    async with transaction(sessions) as session:
        # Set-based: one statement disconnects them all, one finds the pushes that now fail.
        gone, totals["failedOperations"] = await lifecycle.disconnect_stale(session, cutoff)
    totals["accounts"] = gone
    if progress is not None:
        progress(gone)
    async with transaction(sessions) as session:
        totals["connections"] = await lifecycle.unlink_disconnected(session, settings)
    seconds = round(time.perf_counter() - started, 3)
    log.info(
        "disconnect detection: %(accounts)d accounts disconnected, %(connections)d connections "
        "unlinked",
        totals,
        extra={"fields": {"job": "detect_disconnects", **totals, "seconds": seconds}},
    )
    return {**totals, "seconds": seconds}


async def detect_disconnects(ctx: dict[str, Any]) -> dict[str, Any]:
    return await detect(ctx["sessions"], ctx["settings"], ctx.get("progress"))


async def detect_stale_feeds(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> dict[str, Any]:
    """Connected accounts QuickBooks has not pulled for `stale_after_hours` become stale, each
    announced once (bankFeeds.sourceAccount.stale); the next pull announces it fresh again."""
    started = time.perf_counter()
    now = clock.now()
    async with transaction(sessions) as session:
        stale = await repository.mark_stale(
            session, now - timedelta(hours=settings.stale_after_hours), now
        )
        if stale:
            await events.stale_accounts_disconnected(
                session, stale, "bankFeeds.sourceAccount.stale"
            )
    seconds = round(time.perf_counter() - started, 3)
    log.info(
        "feed health: %d accounts became stale",
        len(stale),
        extra={"fields": {"job": "detect_stale", "accounts": len(stale), "seconds": seconds}},
    )
    return {"accounts": len(stale), "seconds": seconds}


async def detect_stale(ctx: dict[str, Any]) -> dict[str, Any]:
    return await detect_stale_feeds(ctx["sessions"], ctx["settings"])
