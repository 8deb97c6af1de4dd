"""`purge-retention`, an arq job: apply every tenant's retention policy in bounded batches.

Each batch is its own short transaction (rows taken with SKIP LOCKED on PostgreSQL), so a push
or a pull never waits on the purge for long and several workers running it at once share the
rows instead of fighting over them; a second run finds nothing left to do. Every run writes the
destruction log: per tenant, one entry per table it destroyed rows of (counts and dates only),
or one "nothing due" entry."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import clock
from app.config import Settings
from app.db import transaction
from app.retention import repository, service

log = logging.getLogger("app.jobs")
BATCH = 500  # rows (batches of lines, for sent lines) per transaction
MAX_BATCHES = 10_000  # per policy and tenant and run: a run always ends


async def _fold(
    sessions: async_sessionmaker[AsyncSession], tenant_id: uuid.UUID, days: dict[str, int]
) -> None:
    """Delivery of old batches folded in from the pull log before the pull log goes."""
    before = service.cutoff(min(days["sent_lines"], days["pull_log"]))
    after: Any = None
    for _ in range(MAX_BATCHES):
        async with transaction(sessions) as session:
            seen, after = await repository.fold_deliveries(session, tenant_id, before, after, BATCH)
        if seen < BATCH:
            return


async def purge_tenant(
    sessions: async_sessionmaker[AsyncSession], tenant_id: uuid.UUID, settings: Settings
) -> dict[str, int]:
    async with transaction(sessions) as session:
        days = await service.effective_days(session, tenant_id, settings)
    await _fold(sessions, tenant_id, days)
    now = clock.now()
    counts: dict[str, int] = {}
    entries: list[dict[str, Any]] = []
    for name, purge in repository.PURGES.items():
        cutoff = service.cutoff(days[name], now)
        total: dict[str, repository.Purged] = {}
        for _ in range(MAX_BATCHES):
            async with transaction(sessions) as session:
                got = await purge(session, tenant_id, cutoff, BATCH)
            for table, p in got.items():
                total.setdefault(table, repository.Purged()).add(p.rows, p.oldest, p.newest)
            if not any(p.rows for p in got.values()):
                break
        entries += service.log_rows(tenant_id, name, days[name], total, now)
        for table, p in total.items():
            counts[table] = counts.get(table, 0) + p.rows
    if not entries:
        entries = [
            {"tenant_id": tenant_id, "at": now, "policy": "none_due", "table_name": "*", "rows": 0}
        ]
    async with transaction(sessions) as session:
        await repository.log_destruction(session, entries)
    return counts


async def purge_retention(ctx: dict[str, Any]) -> dict[str, int]:
    """Idempotent and derived from the tables; safe to run on several workers at once."""
    sessions = ctx["sessions"]
    async with transaction(sessions) as session:
        tenants = await repository.tenant_ids(session)
    counts: dict[str, int] = {"tenants": len(tenants)}
    for tenant_id in tenants:
        for table, rows in (await purge_tenant(sessions, tenant_id, ctx["settings"])).items():
            counts[table] = counts.get(table, 0) + rows
    log.info(
        "purged by retention policy: %s",
        counts,
        extra={"fields": {"job": "purge_retention", **counts}},
    )
    return counts
