"""The ten-day disconnect detection (a daily arq cron job): accounts, their pending pushes and
their connections, so above the domains (app/lifecycle/cascades.py does each step)."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import clock
from app.config import Settings
from app.db import transaction
from app.lifecycle import cascades

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
        gone, totals["failedOperations"] = await cascades.disconnect_stale(session, cutoff)
    totals["accounts"] = gone
    if progress is not None:
        progress(gone)
    async with transaction(sessions) as session:
        totals["connections"] = await cascades.unlink_disconnected(session, settings)
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
