"""Housekeeping across domains, an arq job: forget what has expired — Link OTPs, Link and
portal sessions, credentials, idempotency keys, notes of rejected pushes."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from app import clock
from app.connections import repository as connections
from app.credentials import repository as credentials
from app.db import transaction
from app.kit.idempotency import repository as idempotency
from app.link import repository as link
from app.portal import repository as portal
from app.transactions import repository as transactions

log = logging.getLogger("app.jobs")
# Notes of rejected pushes (shown in the portal) are support history, not records: 30 days.
REJECTION_RETENTION_DAYS = 30


async def purge_expired(ctx: dict[str, Any]) -> dict[str, int]:
    """Idempotent and derived from the tables: what expired more than a day ago goes (a day of
    grace keeps "expired" distinguishable from "unknown" for a while)."""
    before = clock.now() - timedelta(days=1)
    async with transaction(ctx["sessions"]) as session:
        counts = {
            "linkOtps": await connections.purge_otps(session, before),
            "credentials": await credentials.purge_unusable(session, before),
            "idempotencyKeys": await idempotency.purge(session, clock.now()),
            "linkSessions": await link.purge_sessions(session, clock.now()),
            "portalSessions": await portal.purge_sessions(session, clock.now()),
            "pushRejections": await transactions.purge_rejections(
                session, clock.now() - timedelta(days=REJECTION_RETENTION_DAYS)
            ),
        }
    log.info(
        "purged expired records: %s", counts, extra={"fields": {"job": "purge_expired", **counts}}
    )
    return counts
