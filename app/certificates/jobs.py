"""`certify-balances`: every account with something to certify, in chunks of accounts claimed
with FOR UPDATE SKIP LOCKED (several workers share a run, none certifies an account another holds),
then the day's balanceCertified digests."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import clock
from app.certificates import engine, events, repository
from app.db import transaction

log = logging.getLogger("app.jobs")


async def certify_all(sessions: async_sessionmaker[AsyncSession], chunk: int) -> dict[str, Any]:
    started = time.perf_counter()
    totals: dict[str, Any] = {"accounts": 0, "revisions": 0, "digests": 0}
    after: uuid.UUID | None = None
    while True:
        async with transaction(sessions) as session:
            claimed = await repository.claim_due(session, after, chunk)
            if not claimed:
                break
            totals["revisions"] += await engine.certify(session, claimed)
        after = claimed[-1]
        totals["accounts"] += len(claimed)
    async with transaction(sessions) as session:
        totals["digests"] = await events.send_digests(session, clock.now().date(), clock.now())
    totals["seconds"] = round(time.perf_counter() - started, 3)
    log.info(
        "certify balances: %(revisions)d revisions for %(accounts)d accounts, %(digests)d digests",
        totals,
        extra={"fields": {"job": "certify_balances", **totals}},
    )
    return totals


async def certify_balances(ctx: dict[str, Any]) -> dict[str, Any]:
    return await certify_all(ctx["sessions"], ctx["settings"].send_chunk_accounts)
