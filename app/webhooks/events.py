"""The outbox: webhook events and their deliveries, written in the caller's transaction so an
event exists exactly when the change it announces was committed. Bodies use Codat's envelope
{id, eventType, generatedDate, payload}."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.webhooks import repository, schemas
from app.webhooks.tables import WebhookDelivery, WebhookEndpoint, WebhookEvent


class Subscribers:
    """Endpoints per tenant and environment, looked up once for a batch of events."""

    def __init__(self) -> None:
        self._known: dict[tuple[uuid.UUID, str], list[WebhookEndpoint]] = {}

    async def of(
        self, session: AsyncSession, tenant_id: uuid.UUID, environment: str
    ) -> list[WebhookEndpoint]:
        key = (tenant_id, environment)
        if key not in self._known:
            self._known[key] = await repository.endpoints_of(session, tenant_id, environment)
        return self._known[key]


async def any_endpoint(session: AsyncSession) -> bool:
    """Whether any tenant has an endpoint at all: a batch with no listener anywhere is skipped
    before its rows are loaded."""
    return await repository.any_endpoint(session)


async def emit(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    environment: str,
    event_type: str,
    payload: dict[str, Any],
    subscribers: Subscribers | None = None,
) -> int:
    """Write the event and one delivery per subscribed endpoint, in the caller's transaction."""
    found = await (subscribers or Subscribers()).of(session, tenant_id, environment)
    endpoints = [e for e in found if not e.event_types or event_type in e.event_types]
    if not endpoints:
        return 0
    now = clock.now()
    event_id = uuid.uuid4()
    envelope = schemas.Envelope(
        id=str(event_id), eventType=event_type, generatedDate=now, payload=payload
    )
    event = WebhookEvent(
        id=event_id,
        tenant_id=tenant_id,
        environment=environment,
        event_type=event_type,
        body=envelope.model_dump_json(),
        created_at=now,
    )
    deliveries = [
        WebhookDelivery(
            event_id=event_id,
            endpoint_id=e.id,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        for e in endpoints
    ]
    await repository.add(session, event)  # before its deliveries (their foreign key)
    await repository.add(session, *deliveries)
    return len(deliveries)


def company_reference(company_id: uuid.UUID, name: str) -> dict[str, Any]:
    return {"id": str(company_id), "name": name}


def payload_json(model: Any) -> Any:
    """A wire model as the JSON-ready dict webhooks carry."""
    return json.loads(model.model_dump_json(by_alias=True))
