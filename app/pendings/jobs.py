"""The daily pending expiry (`bankfeeds jobs run expire-pendings`): held pendings past their
expiresOn, else 30 days on cards and 14 on deposit accounts, expire (announced); pendings that
ended more than 90 days ago go, with their links and suggestions. Derived from the tables, so
running it twice does nothing twice."""

from __future__ import annotations

import logging
from typing import Any

from app.db import transaction
from app.pendings import linking

log = logging.getLogger("app.jobs")


async def expire_pendings(ctx: dict[str, Any]) -> dict[str, int]:
    settings = ctx["settings"]
    async with transaction(ctx["sessions"]) as session:
        expired = await linking.expire(
            session, settings.pending_card_days, settings.pending_deposit_days
        )
        purged = await linking.purge(session, settings.pending_retention_days)
    counts = {"expired": expired, "purged": purged}
    log.info(
        "pendings: %(expired)d expired, %(purged)d purged",
        counts,
        extra={"fields": {"job": "expire_pendings", **counts}},
    )
    return counts
