"""All SQL of the webhooks domain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.tenants.service import Principal
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


async def claim_due(
    session: AsyncSession, now: datetime, lease_until: datetime, limit: int
) -> list[tuple[WebhookDelivery, WebhookEvent, WebhookEndpoint]]:
    """Due deliveries for this worker: locked rows other workers skip, leased by moving their
    next attempt past the lease (a worker dying mid-send just lets the lease run out)."""
    stmt = (
        select(WebhookDelivery)
        .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    due = list((await session.execute(stmt)).scalars())
    if not due:
        return []
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_([d.id for d in due]))
        .values(next_attempt_at=lease_until)
        .execution_options(synchronize_session=False)
    )
    events = {
        e.id: e
        for e in (
            await session.execute(
                select(WebhookEvent).where(WebhookEvent.id.in_({d.event_id for d in due}))
            )
        ).scalars()
    }
    endpoints = {
        e.id: e
        for e in (
            await session.execute(
                select(WebhookEndpoint).where(WebhookEndpoint.id.in_({d.endpoint_id for d in due}))
            )
        ).scalars()
    }
    return [(d, events[d.event_id], endpoints[d.endpoint_id]) for d in due]


async def record_attempt(
    session: AsyncSession,
    delivery_id: uuid.UUID,
    attempt: WebhookAttempt,
    *,
    status: str,
    attempts: int,
    next_attempt_at: datetime,
    completed_at: datetime | None,
) -> None:
    session.add(attempt)
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .values(
            status=status,
            attempts=attempts,
            next_attempt_at=next_attempt_at,
            completed_at=completed_at,
        )
    )
    await session.flush()


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
