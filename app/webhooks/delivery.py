"""Delivering webhook events: signed with the Standard Webhooks library, sent with httpx, at least
once, with exponential back-off and jitter over about a day; every attempt is recorded."""

from __future__ import annotations

import logging
import random
import time
from datetime import datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks import Webhook

from app import clock
from app.db import transaction
from app.webhooks import repository
from app.webhooks.tables import WebhookAttempt

log = logging.getLogger("app.webhooks")
BATCH = 50
LEASE = timedelta(seconds=60)
FIRST_DELAY = 5.0
MAX_DELAY = 6 * 3600.0


def next_delay(attempts: int, rng: random.Random | None = None) -> timedelta:
    """5 s, 10 s, 20 s … doubling to at most 6 h, each ±20%: 15 attempts span about a day."""
    base = min(FIRST_DELAY * 2 ** (attempts - 1), MAX_DELAY)
    return timedelta(seconds=base * (rng or random).uniform(0.8, 1.2))


async def deliver_due(
    sessions: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
    *,
    max_attempts: int,
    answer_within: float,
) -> dict[str, int]:
    """Send every delivery that is due now; returns counts by outcome."""
    counts = {"succeeded": 0, "retrying": 0, "failed": 0}
    while True:
        now = clock.now()
        async with transaction(sessions) as session:
            batch = await repository.claim_due(session, now, now + LEASE, BATCH)
        if not batch:
            return counts
        for delivery, event, endpoint in batch:
            sent_at = clock.now()
            signed_at = datetime.fromtimestamp(time.time(), tz=sent_at.tzinfo)
            signature = Webhook(endpoint.secret).sign(str(event.id), signed_at, event.body)
            headers = {
                "content-type": "application/json",
                "webhook-id": str(event.id),
                "webhook-timestamp": str(int(signed_at.timestamp())),
                "webhook-signature": signature,
                "user-agent": "bankfeeds-webhooks/1",
            }
            started = time.perf_counter()
            status_code: int | None = None
            error: str | None = None
            try:
                response = await http.post(
                    endpoint.url,
                    content=event.body.encode(),
                    headers=headers,
                    timeout=answer_within,
                )
                status_code = response.status_code
                if not 200 <= status_code < 300:
                    error = f"answered {status_code}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}"
            elapsed = int((time.perf_counter() - started) * 1000)
            attempts = delivery.attempts + 1
            done = error is None
            gave_up = not done and attempts >= max_attempts
            outcome = "succeeded" if done else ("failed" if gave_up else "pending")
            counts["succeeded" if done else ("failed" if gave_up else "retrying")] += 1
            finished = clock.now()
            async with transaction(sessions) as session:
                await repository.record_attempt(
                    session,
                    delivery.id,
                    WebhookAttempt(
                        delivery_id=delivery.id,
                        attempted_at=sent_at,
                        status_code=status_code,
                        error=error,
                        duration_ms=elapsed,
                    ),
                    status=outcome,
                    attempts=attempts,
                    next_attempt_at=finished
                    if outcome != "pending"
                    else finished + next_delay(attempts),
                    completed_at=finished if outcome != "pending" else None,
                )
            if not done:
                log.info(
                    "webhook delivery %s attempt %d: %s",
                    delivery.id,
                    attempts,
                    error,
                    extra={"fields": {"eventType": event.event_type, "outcome": outcome}},
                )
