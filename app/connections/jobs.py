"""arq jobs of the connections domain."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from app import clock
from app.connections import repository
from app.db import transaction

log = logging.getLogger("app.jobs")


async def purge_link_otps(ctx: dict[str, Any]) -> int:
    """Forget linkUrl passwords a day after they expired (idempotent; derived from the table)."""
    async with transaction(ctx["sessions"]) as session:
        purged = await repository.purge_otps(session, clock.now() - timedelta(days=1))
    log.info("purged %d expired link OTPs", purged, extra={"fields": {"job": "purge_link_otps"}})
    return purged
