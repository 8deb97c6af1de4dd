"""All SQL of the webhooks domain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.principal import Principal
from app.webhooks.tables import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent


async def add(session: AsyncSession, *rows: object) -> None:
    session.add_all(rows)
    await session.flush()


async def endpoints_of(
    session: AsyncSession, tenant_id: uuid.UUID, environment: str
) -> list[WebhookEndpoint]:
    stmt = (
        select(WebhookEndpoint)
        .where(WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.environment == environment)
        .order_by(WebhookEndpoint.created_at)
    )
    return list((await session.execute(stmt)).scalars())


async def endpoint(
    session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID
) -> WebhookEndpoint | None:
    stmt = select(WebhookEndpoint).where(
        WebhookEndpoint.id == endpoint_id,
        WebhookEndpoint.tenant_id == principal.tenant_id,
        WebhookEndpoint.environment == principal.environment,
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def remove(session: AsyncSession, row: WebhookEndpoint) -> None:
    await session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == row.id))


async def deliveries_page(
    session: AsyncSession, endpoint_id: uuid.UUID, offset: int, limit: int
) -> tuple[list[tuple[WebhookDelivery, str]], int]:
    where = WebhookDelivery.endpoint_id == endpoint_id
    total = (
        await session.execute(select(func.count()).select_from(WebhookDelivery).where(where))
    ).scalar_one()
    stmt = (
        select(WebhookDelivery, WebhookEvent.event_type)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(where)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
        .offset(offset)
        .limit(limit)
    )
    rows = [(d, t) for d, t in (await session.execute(stmt)).all()]
    return rows, int(total)


async def attempts_of(
    session: AsyncSession, delivery_ids: Sequence[uuid.UUID]
) -> list[WebhookAttempt]:
    if not delivery_ids:
        return []
    stmt = (
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(delivery_ids))
        .order_by(WebhookAttempt.id)
    )
    return list((await session.execute(stmt)).scalars())


async def give_up_lost(session: AsyncSession, now: datetime, max_attempts: int) -> int:
    """Deliveries whose last allowed attempt was claimed but never recorded (a worker killed
    mid-send) fail now: attempts are counted when claimed, so none is retried forever."""
    result = await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= now,
            WebhookDelivery.attempts >= max_attempts,
        )
        .values(status="failed", completed_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def due_fairly(
    session: AsyncSession, now: datetime, per_endpoint: int, per_tenant: int, limit: int
) -> list[tuple[uuid.UUID, uuid.UUID, tuple[uuid.UUID, str]]]:
    """(delivery, endpoint, (tenant, environment)) of due deliveries, oldest first, at most
    `per_endpoint` of each endpoint and `per_tenant` of each tenant's environment: one tenant's
    backlog cannot fill the batch, nor a tenant's sandbox its production's share.
    Paused endpoints are left out until their pause ends."""
    by_endpoint = (
        select(
            WebhookDelivery.id,
            WebhookDelivery.endpoint_id,
            WebhookEndpoint.tenant_id,
            WebhookEndpoint.environment,
            WebhookDelivery.next_attempt_at,
            func.row_number()
            .over(
                partition_by=WebhookDelivery.endpoint_id,
                order_by=(WebhookDelivery.next_attempt_at, WebhookDelivery.id),
            )
            .label("nth"),
        )
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= now,
            or_(WebhookEndpoint.paused_until.is_(None), WebhookEndpoint.paused_until <= now),
        )
        .subquery()
    )
    by_tenant = (
        select(
            by_endpoint.c.id,
            by_endpoint.c.endpoint_id,
            by_endpoint.c.tenant_id,
            by_endpoint.c.environment,
            by_endpoint.c.next_attempt_at,
            func.row_number()
            .over(
                partition_by=(by_endpoint.c.tenant_id, by_endpoint.c.environment),
                order_by=(by_endpoint.c.next_attempt_at, by_endpoint.c.id),
            )
            .label("nth"),
        )
        .where(by_endpoint.c.nth <= per_endpoint)
        .subquery()
    )
    stmt = (
        select(
            by_tenant.c.id, by_tenant.c.endpoint_id, by_tenant.c.tenant_id, by_tenant.c.environment
        )
        .where(by_tenant.c.nth <= per_tenant)
        .order_by(by_tenant.c.next_attempt_at, by_tenant.c.id)
        .limit(limit)
    )
    return [(d, e, (t, env)) for d, e, t, env in (await session.execute(stmt)).all()]


async def claim(
    session: AsyncSession, ids: Sequence[uuid.UUID], now: datetime, lease_until: datetime
) -> list[tuple[WebhookDelivery, WebhookEvent, WebhookEndpoint]]:
    """Claims those of `ids` still due (another worker may have taken some): their attempt is
    counted now, and their next attempt moves past the lease, so a worker dying mid-send just
    lets the lease run out and the attempt stays counted."""
    if not ids:
        return []
    won = set(
        (
            await session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id.in_(ids),
                    WebhookDelivery.status == "pending",
                    WebhookDelivery.next_attempt_at <= now,
                )
                .values(attempts=WebhookDelivery.attempts + 1, next_attempt_at=lease_until)
                .returning(WebhookDelivery.id)
                .execution_options(synchronize_session=False)
            )
        ).scalars()
    )
    if not won:
        return []
    stmt = (
        select(WebhookDelivery, WebhookEvent, WebhookEndpoint)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.id.in_(won))
        .execution_options(populate_existing=True)
    )
    return [(d, ev, ep) for d, ev, ep in (await session.execute(stmt)).all()]


async def record_attempt(
    session: AsyncSession,
    delivery_id: uuid.UUID,
    attempt: WebhookAttempt,
    *,
    status: str,
    next_attempt_at: datetime,
    completed_at: datetime | None,
) -> bool:
    """The attempt and the delivery's new state; False (nothing written) when the delivery is
    gone meanwhile (its endpoint was deleted)."""
    result = await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .values(status=status, next_attempt_at=next_attempt_at, completed_at=completed_at)
        .execution_options(synchronize_session=False)
    )
    if not getattr(result, "rowcount", 0):
        return False
    session.add(attempt)
    await session.flush()
    return True


async def endpoint_succeeded(session: AsyncSession, endpoint_id: uuid.UUID) -> None:
    """Closes the circuit breaker: the run of failures is over."""
    await session.execute(
        update(WebhookEndpoint)
        .where(
            WebhookEndpoint.id == endpoint_id,
            or_(
                WebhookEndpoint.failing_since.is_not(None),
                WebhookEndpoint.paused_until.is_not(None),
            ),
        )
        .values(failing_since=None, paused_until=None)
        .execution_options(synchronize_session=False)
    )


async def endpoint_failed(
    session: AsyncSession,
    endpoint_id: uuid.UUID,
    now: datetime,
    failing_before: datetime,
    paused_until: datetime,
) -> bool:
    """Notes the failure; pauses the endpoint (True) when its failures began before
    `failing_before` and it is not paused already."""
    await session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.failing_since.is_(None))
        .values(failing_since=now)
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(
        update(WebhookEndpoint)
        .where(
            WebhookEndpoint.id == endpoint_id,
            WebhookEndpoint.failing_since <= failing_before,
            or_(WebhookEndpoint.paused_until.is_(None), WebhookEndpoint.paused_until <= now),
        )
        .values(paused_until=paused_until)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def count_endpoints(session: AsyncSession, tenant_id: uuid.UUID, environment: str) -> int:
    stmt = (
        select(func.count())
        .select_from(WebhookEndpoint)
        .where(WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.environment == environment)
    )
    return int((await session.execute(stmt)).scalar_one())


async def any_endpoint(session: AsyncSession) -> bool:
    """Whether any tenant has an endpoint at all: large batches skip event work when none does."""
    stmt = select(WebhookEndpoint.id).limit(1)
    return (await session.execute(stmt)).first() is not None


async def recent_deliveries(
    session: AsyncSession, endpoint_ids: Sequence[uuid.UUID], limit: int
) -> list[tuple[WebhookDelivery, str]]:
    """The newest deliveries to these endpoints, with their event type."""
    if not endpoint_ids:
        return []
    stmt = (
        select(WebhookDelivery, WebhookEvent.event_type)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.endpoint_id.in_(endpoint_ids))
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
        .limit(limit)
    )
    return [(d, t) for d, t in (await session.execute(stmt)).all()]


async def delivery(
    session: AsyncSession, principal: Principal, delivery_id: uuid.UUID
) -> WebhookDelivery | None:
    stmt = (
        select(WebhookDelivery)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookEndpoint.tenant_id == principal.tenant_id,
            WebhookEndpoint.environment == principal.environment,
        )
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def forget_mentions(
    session: AsyncSession, tenant_id: uuid.UUID, environment: str, groups: list[tuple[str, ...]]
) -> int:
    """Deletes the tenant's events whose body contains all of any one group of `groups` (a
    deleted company's id; an account's connection id with its id as payloads write it), with
    their deliveries and attempts (ON DELETE CASCADE)."""
    matches = [and_(*(WebhookEvent.body.contains(n, autoescape=True) for n in g)) for g in groups]
    stmt = delete(WebhookEvent).where(
        WebhookEvent.tenant_id == tenant_id, WebhookEvent.environment == environment, or_(*matches)
    )
    result = await session.execute(stmt)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
