"""arq job: deliver the webhook deliveries that are due."""

from __future__ import annotations

from typing import Any

from app.webhooks.delivery import deliver_due


async def deliver_webhooks(ctx: dict[str, Any]) -> dict[str, int]:
    settings = ctx["settings"]
    return await deliver_due(
        ctx["sessions"],
        ctx["http"],
        max_attempts=settings.webhook_max_attempts,
        answer_within=settings.webhook_timeout_seconds,
    )
