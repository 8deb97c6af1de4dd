"""Re-seal every sealed value under the newest of BANKFEEDS_SECRET_KEYS (`bankfeeds secrets
rotate`): account numbers and webhook signing secrets, in bounded batches of short transactions
beside a running service. Afterwards every value opens with the newest key alone, so the older
keys can be dropped. Idempotent: a value already under the newest key is left as it is."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import vault
from app.config import Settings
from app.db import transaction
from app.sealing import repository

log = logging.getLogger("app.jobs")
KINDS = ("account_numbers", "webhook_secrets")
BATCH = 500


async def reseal(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    tenant_id: uuid.UUID | None = None,
) -> dict[str, int]:
    """Counts per kind: resealed, already under the newest key, unreadable (under no key held)."""
    counts: dict[str, int] = {}
    for kind in KINDS:
        after: Any = None
        done = kept = unreadable = 0
        while True:
            async with transaction(sessions) as session:
                rows = await repository.batch(session, kind, after, BATCH, tenant_id)
                for row_key, stored in rows:
                    try:
                        sealed = vault.reseal(stored, settings)
                    except vault.SecretUnreadable:
                        unreadable += 1
                        continue
                    if sealed == stored:
                        kept += 1
                    elif await repository.write(session, kind, row_key, stored, sealed):
                        done += 1
            if len(rows) < BATCH:
                break
            after = rows[-1][0]
        counts |= {f"{kind}Resealed": done, f"{kind}Kept": kept, f"{kind}Unreadable": unreadable}
    log.info("re-sealed secrets: %s", counts, extra={"fields": {"job": "reseal", **counts}})
    return counts
