"""Delivering webhook events: signed with the Standard Webhooks library, sent with httpx, at least
once, with exponential back-off and jitter over about a day; every attempt is recorded.

Delivery is shared by every tenant, so it is bounded and fair: each attempt has one total
deadline (resolving, connecting, sending and reading), reads at most a few KiB of the answer,
counts as soon as it is claimed, and attempts run concurrently under a cap per endpoint and per
tenant and environment, so one tenant's dead or slow endpoints cannot hold up another tenant's
events, nor a tenant's sandbox its production. An
endpoint whose attempts have all failed for hours is paused for a while (a circuit breaker)."""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks import Webhook

from app import clock, vault
from app.config import Settings
from app.db import transaction
from app.webhooks import egress, repository
from app.webhooks.tables import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent

log = logging.getLogger("app.webhooks")
FIRST_DELAY = 5.0
MAX_DELAY = 6 * 3600.0
BODY_CAP = 4096  # bytes of an answer read (and dropped) before the connection is closed
LEASE_MARGIN = timedelta(seconds=30)
POLL_SECONDS = 0.5  # how often a running job looks for newly due deliveries
RUN_SECONDS = 300.0  # a job stops claiming after this; the next cron run carries on

# What a client is told of a failed attempt: a category, never the error or where it broke.
TIMEOUT, REFUSED, STATUS, BLOCKED, UNRESOLVED, UNSIGNED = (
    "timeout",
    "refused",
    "status",
    "blocked",
    "unresolved",
    "unsigned",
)


@dataclass(frozen=True)
class Limits:
    max_attempts: int
    deadline: float
    total: int
    per_tenant: int
    per_endpoint: int
    pause_after: timedelta
    pause_for: timedelta
    policy: egress.Policy

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            max_attempts=settings.webhook_max_attempts,
            deadline=settings.webhook_timeout_seconds,
            total=settings.webhook_concurrency,
            per_tenant=settings.webhook_tenant_concurrency,
            per_endpoint=min(
                settings.webhook_endpoint_concurrency, settings.webhook_tenant_concurrency
            ),
            pause_after=timedelta(hours=settings.webhook_pause_after_hours),
            pause_for=timedelta(minutes=settings.webhook_pause_minutes),
            policy=egress.Policy.of(settings),
        )


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None  # one of the categories above; None when the receiver answered 2xx
    duration_ms: int
    detail: str  # for the operator's log only


def next_delay(attempts: int, rng: random.Random | None = None) -> timedelta:
    """5 s, 10 s, 20 s … doubling to at most 6 h, each ±20%: 15 attempts span about a day."""
    base = min(FIRST_DELAY * 2 ** (attempts - 1), MAX_DELAY)
    return timedelta(seconds=base * (rng or random).uniform(0.8, 1.2))


def signed_headers(event: WebhookEvent, secret: str) -> dict[str, str]:
    signed_at = datetime.fromtimestamp(time.time(), tz=clock.now().tzinfo)
    return {
        "content-type": "application/json",
        "webhook-id": str(event.id),
        "webhook-timestamp": str(int(signed_at.timestamp())),
        "webhook-signature": Webhook(secret).sign(str(event.id), signed_at, event.body),
        "user-agent": "bankfeeds-webhooks/1",
    }


async def send(
    http: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str], limits: Limits
) -> Outcome:
    """One attempt under one total deadline: check and pin the address, POST, read at most
    BODY_CAP bytes of the answer. A receiver that answered keeps its status even when the
    deadline cuts the rest of its body."""
    started = time.perf_counter()
    status_code: int | None = None
    error: str | None = None
    detail = "ok"
    try:
        async with asyncio.timeout(limits.deadline):
            target = await egress.target(url, limits.policy)
            async with http.stream(
                "POST",
                target.url,
                content=body,
                headers={**headers, **target.headers},
                extensions=target.extensions,
                timeout=limits.deadline,
            ) as response:
                status_code = response.status_code
                read = 0
                async for chunk in response.aiter_raw():
                    read += len(chunk)
                    if read >= BODY_CAP:
                        break
    except egress.Refused as exc:
        error, detail = BLOCKED, exc.reason
    except egress.Unresolved:
        error, detail = UNRESOLVED, "name did not resolve"
    except (TimeoutError, httpx.TimeoutException) as exc:
        error, detail = (None, "answer cut at the deadline") if status_code else (TIMEOUT, "")
        detail = detail or type(exc).__name__
    except Exception as exc:  # httpx.HTTPError, and anything a hostile answer might provoke
        error, detail = (None, type(exc).__name__) if status_code else (REFUSED, type(exc).__name__)
    if status_code is not None and not 200 <= status_code < 300:
        error = STATUS
    elapsed = int((time.perf_counter() - started) * 1000)
    return Outcome(status_code, error, elapsed, detail)


async def attempt(
    sessions: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
    limits: Limits,
    delivery: WebhookDelivery,
    event: WebhookEvent,
    endpoint: WebhookEndpoint,
) -> str:
    """Sends one claimed delivery and records it; returns succeeded, retrying or failed."""
    sent_at = clock.now()
    try:
        headers = signed_headers(event, vault.unseal(endpoint.secret))
    except vault.SecretUnreadable:
        # BANKFEEDS_SECRET_KEYS lost the key this secret was sealed under: nothing is sent
        # unsigned; the attempt fails (and is retried) until the operator restores the key.
        outcome = Outcome(
            None, UNSIGNED, 0, "signing secret unreadable: check BANKFEEDS_SECRET_KEYS"
        )
    else:
        outcome = await send(http, endpoint.url, event.body.encode(), headers, limits)
    done = outcome.error is None
    gave_up = not done and delivery.attempts >= limits.max_attempts
    status = "succeeded" if done else ("failed" if gave_up else "pending")
    finished = clock.now()
    paused = False
    async with transaction(sessions) as session:
        await repository.record_attempt(
            session,
            delivery.id,
            WebhookAttempt(
                delivery_id=delivery.id,
                attempted_at=sent_at,
                status_code=outcome.status_code,
                error=outcome.error,
                duration_ms=outcome.duration_ms,
            ),
            status=status,
            next_attempt_at=finished
            if status != "pending"
            else finished + next_delay(delivery.attempts),
            completed_at=finished if status != "pending" else None,
        )
        if done:
            await repository.endpoint_succeeded(session, endpoint.id)
        else:
            paused = await repository.endpoint_failed(
                session,
                endpoint.id,
                finished,
                finished - limits.pause_after,
                finished + limits.pause_for,
            )
    if not done:
        log.info(
            "webhook delivery %s attempt %d: %s (%s)%s",
            delivery.id,
            delivery.attempts,
            outcome.error,
            outcome.detail,
            "; endpoint paused" if paused else "",
            extra={"fields": {"eventType": event.event_type, "outcome": status}},
        )
    return "succeeded" if done else ("failed" if gave_up else "retrying")


async def deliver_due(
    sessions: async_sessionmaker[AsyncSession], http: httpx.AsyncClient, limits: Limits
) -> dict[str, int]:
    """Sends every delivery that is due, concurrently within the caps, until none is due or in
    flight (or the run's time is up); returns counts by outcome."""
    counts = {"succeeded": 0, "retrying": 0, "failed": 0}
    running: dict[asyncio.Task[str], tuple[uuid.UUID, tuple[uuid.UUID, str]]] = {}
    lease = timedelta(seconds=limits.deadline) + LEASE_MARGIN
    stop_claiming = time.monotonic() + RUN_SECONDS
    try:
        await _run(sessions, http, limits, counts, running, lease, stop_claiming)
    finally:
        for task in running:
            task.cancel()
    return counts


async def _run(
    sessions: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
    limits: Limits,
    counts: dict[str, int],
    running: dict[asyncio.Task[str], tuple[uuid.UUID, tuple[uuid.UUID, str]]],
    lease: timedelta,
    stop_claiming: float,
) -> None:
    while True:
        claimed = 0
        free = limits.total - len(running)
        if free > 0 and time.monotonic() < stop_claiming:
            per_endpoint = Counter(e for e, _ in running.values())
            per_tenant = Counter(t for _, t in running.values())
            now = clock.now()
            async with transaction(sessions) as session:
                counts["failed"] += await repository.give_up_lost(session, now, limits.max_attempts)
                chosen: list[uuid.UUID] = []
                for delivery_id, endpoint_id, tenant_id in await repository.due_fairly(
                    session, now, limits.per_endpoint, limits.per_tenant, limits.total
                ):
                    if len(chosen) >= free:
                        break
                    if per_endpoint[endpoint_id] >= limits.per_endpoint:
                        continue
                    if per_tenant[tenant_id] >= limits.per_tenant:
                        continue
                    per_endpoint[endpoint_id] += 1
                    per_tenant[tenant_id] += 1
                    chosen.append(delivery_id)
                batch = await repository.claim(session, chosen, now, now + lease)
            for delivery, event, endpoint in batch:
                task = asyncio.create_task(
                    attempt(sessions, http, limits, delivery, event, endpoint)
                )
                running[task] = (endpoint.id, (endpoint.tenant_id, endpoint.environment))
            claimed = len(batch)
        if not running:
            if claimed == 0:
                return
            continue
        done, _ = await asyncio.wait(
            running, timeout=POLL_SECONDS, return_when=asyncio.FIRST_COMPLETED
        )
        for task in done:
            del running[task]
            counts[task.result()] += 1
