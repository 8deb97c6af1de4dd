"""Feed health: accounts QuickBooks has not pulled for a while become stale (an arq cron job).
The ten-day disconnect detection spans domains: app/lifecycle/detection.py."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import clock
from app.accounts import events, repository
from app.config import Settings
from app.db import transaction

log = logging.getLogger("app.jobs")


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
