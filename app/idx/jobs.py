"""The daily send: every pending transaction of every connected account is published to
QuickBooks, exactly once, and certified in the same transaction (the pull's Update sends one
account on demand, idx/service.py; this sends the rest).

Work comes from the database, in chunks of accounts claimed with FOR UPDATE SKIP LOCKED and sent
in one transaction each: several workers share a run without overlap, a worker killed mid-chunk
leaves that chunk untouched (its transaction never commits) and the next run sends it.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.certificates import service as certificates
from app.db import transaction
from app.transactions import service as transactions

log = logging.getLogger("app.jobs")
Progress = Callable[[int], None]


async def send_all(
    sessions: async_sessionmaker[AsyncSession], chunk: int, progress: Progress | None = None
) -> dict[str, int]:
    started = time.perf_counter()
    totals = {"accounts": 0, "transactions": 0, "operations": 0, "failed": 0}
    async with transaction(sessions) as session:
        # Pending pushes of feeds disconnected before anything sent them fail (normally already
        # done when the account was disconnected; this sweep makes the run self-sufficient).
        totals["failed"] = await transactions.fail_pending(session)
    after: uuid.UUID | None = None
    while True:
        async with transaction(sessions) as session:
            claimed = await transactions.claim_sendable(session, after, chunk)
            if not claimed:
                break
            sent, operations = await transactions.send(session, claimed)
            await certificates.certify(session, claimed)  # after every send, in its transaction
        after = claimed[-1]
        totals["accounts"] += len(claimed)
        totals["transactions"] += sent
        totals["operations"] += operations
        if progress is not None:
            progress(sent)
    totals["seconds"] = round(time.perf_counter() - started, 3)  # type: ignore[assignment]
    log.info(
        "daily send: %(transactions)d transactions of %(accounts)d accounts, "
        "%(operations)d operations succeeded, %(failed)d failed",
        totals,
        extra={"fields": {"job": "daily_send", **totals}},
    )
    return totals


async def daily_send(ctx: dict[str, Any]) -> dict[str, int]:
    return await send_all(ctx["sessions"], ctx["settings"].send_chunk_accounts, ctx.get("progress"))


async def count_pending(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with transaction(sessions) as session:
        return await transactions.count_pending(session)
