"""arq job: deliver the webhook deliveries that are due."""

from __future__ import annotations

import logging
from typing import Any

from app.webhooks.delivery import Limits, deliver_due

log = logging.getLogger("app.webhooks")


async def deliver_webhooks(ctx: dict[str, Any]) -> dict[str, int]:
    counts = await deliver_due(ctx["sessions"], ctx["http"], Limits.of(ctx["settings"]))
    log.log(
        logging.INFO if any(counts.values()) else logging.DEBUG,  # idle ticks stay quiet
        "webhook deliveries: %(succeeded)d succeeded, %(retrying)d to retry, %(failed)d failed",
        counts,
        extra={"fields": {"job": "deliver_webhooks", **counts}},
    )
    return counts
