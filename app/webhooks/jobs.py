"""arq job: deliver the webhook deliveries that are due."""

from __future__ import annotations

import logging
from typing import Any

from app.webhooks.delivery import deliver_due

log = logging.getLogger("app.webhooks")


async def deliver_webhooks(ctx: dict[str, Any]) -> dict[str, int]:
    settings = ctx["settings"]
    counts = await deliver_due(
        ctx["sessions"],
        ctx["http"],
        max_attempts=settings.webhook_max_attempts,
        answer_within=settings.webhook_timeout_seconds,
    )
    log.info(
        "webhook deliveries: %(succeeded)d succeeded, %(retrying)d to retry, %(failed)d failed",
        counts,
        extra={"fields": {"job": "deliver_webhooks", **counts}},
    )
    return counts
