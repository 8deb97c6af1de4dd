"""Webhooks: endpoints per tenant and environment, their deliveries, and re-sending one.
Events themselves are written by the outbox, app/webhooks/events.py."""

from __future__ import annotations

import base64
import secrets
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.db import parse_uuid
from app.kit.errors import ApiError, BadRequest, NotFound, ServiceUnavailable
from app.kit.principal import Principal
from app.kit.schemas import ErrorValidationItem
from app.webhooks import egress, repository, schemas
from app.webhooks.tables import WebhookDelivery, WebhookEndpoint

RETRY_UNCHECKED_SECONDS = 30


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def paused(row: WebhookEndpoint) -> bool:
    return row.paused_until is not None and row.paused_until > clock.now()


def to_wire(row: WebhookEndpoint) -> schemas.Endpoint:
    return schemas.Endpoint(
        id=str(row.id),
        url=row.url,
        description=row.description,
        eventTypes=row.event_types or [],
        createdOnUtc=row.created_at,
        status="paused" if paused(row) else "active",
        failingSinceUtc=row.failing_since,
        pausedUntilUtc=row.paused_until if paused(row) else None,
    )


# A URL and what its check found (None: allowed), from before the request's transaction.
Checked = tuple[str, ApiError | None]


async def check_url(url: str, policy: egress.Policy) -> ApiError | None:
    """The error a registration of `url` gets, or None when it reaches only allowed addresses.
    Its DNS look-up is bounded and has a deadline (app/webhooks/resolver.py)."""
    try:
        await egress.check_registration(url, policy)
    except egress.Unchecked as exc:
        return ServiceUnavailable(
            f"The webhook URL is refused: {exc}. Webhooks reach only public addresses.",
            headers={"Retry-After": str(RETRY_UNCHECKED_SECONDS)},
        )
    except egress.Refused as exc:
        return BadRequest(
            f"The webhook URL is refused: {exc.reason}. Webhooks reach only public addresses.",
            errors=[
                ErrorValidationItem(
                    itemId="url", message=f"url: {exc.reason}", validatorName="egress"
                )
            ],
        )
    return None


async def create(
    session: AsyncSession,
    principal: Principal,
    body: schemas.CreateEndpoint,
    policy: egress.Policy,
    max_endpoints: int,
    checked: Checked | None = None,
) -> schemas.CreatedEndpoint:
    """Registers the endpoint once its URL reaches only allowed addresses, within the tenant's
    cap on endpoints (per environment). A look-up that cannot finish is a 503 with Retry-After,
    worded like a refusal: never accepted unchecked, never telling a missing name from a
    private one."""
    url = str(body.url)
    if checked is not None and checked[0] == url:
        problem = checked[1]
    else:  # not looked up before the transaction
        problem = await check_url(url, policy)
    if problem is not None:
        raise problem
    environment = principal.environment
    if await repository.count_endpoints(session, principal.tenant_id, environment) >= max_endpoints:
        raise BadRequest(
            f"A tenant may have at most {max_endpoints} webhook endpoints in {environment}; "
            "delete one first."
        )
    secret = new_secret()
    row = WebhookEndpoint(
        tenant_id=principal.tenant_id,
        environment=principal.environment,
        url=url,
        description=body.description,
        event_types=list(dict.fromkeys(body.eventTypes)),
        secret=secret,
        created_at=clock.now(),
    )
    await repository.add(session, row)
    return schemas.CreatedEndpoint(**to_wire(row).model_dump(), secret=secret)


async def get(session: AsyncSession, principal: Principal, endpoint_id: str) -> WebhookEndpoint:
    parsed = parse_uuid(endpoint_id)
    row = await repository.endpoint(session, principal, parsed) if parsed else None
    if row is None:
        raise NotFound(f"No webhook endpoint was found with ID {endpoint_id}")
    return row


async def endpoints(session: AsyncSession, principal: Principal) -> list[WebhookEndpoint]:
    """The tenant's endpoints in the caller's environment."""
    return await repository.endpoints_of(session, principal.tenant_id, principal.environment)


async def delete(session: AsyncSession, principal: Principal, endpoint_id: str) -> None:
    """Removes the endpoint and, with it, every delivery still pending to it."""
    await repository.remove(session, await get(session, principal, endpoint_id))


async def deliveries(
    session: AsyncSession, principal: Principal, endpoint_id: str, page: int, size: int
) -> schemas.Deliveries:
    row = await get(session, principal, endpoint_id)
    found, total = await repository.deliveries_page(session, row.id, (page - 1) * size, size)
    attempts = await repository.attempts_of(session, [d.id for d, _ in found])
    by_delivery: dict[uuid.UUID, list[schemas.Attempt]] = {}
    for a in attempts:
        by_delivery.setdefault(a.delivery_id, []).append(
            schemas.Attempt(
                attemptedOnUtc=a.attempted_at,
                statusCode=a.status_code,
                error=a.error,  # a category (migration 0008 turned older rows into one)
                durationMs=a.duration_ms if a.status_code is not None else None,
            )
        )
    return schemas.Deliveries(
        results=[
            schemas.Delivery(
                id=str(d.id),
                eventId=str(d.event_id),
                eventType=event_type,
                status=d.status,
                attempts=by_delivery.get(d.id, []),
                nextAttemptOnUtc=d.next_attempt_at if d.status == "pending" else None,
                createdOnUtc=d.created_at,
                completedOnUtc=d.completed_at,
            )
            for d, event_type in found
        ],
        pageNumber=page,
        pageSize=size,
        totalResults=total,
    )


async def recent(
    session: AsyncSession, principal: Principal, limit: int
) -> tuple[list[WebhookEndpoint], list[tuple[WebhookDelivery, str]]]:
    """The tenant's endpoints and their newest deliveries (for the portal)."""
    found = await endpoints(session, principal)
    return found, await repository.recent_deliveries(session, [e.id for e in found], limit)


async def resend(session: AsyncSession, principal: Principal, delivery_id: str) -> WebhookDelivery:
    """Queues the same signed event to the same endpoint again, as a new delivery due now; the
    earlier delivery and its attempts stay as they were."""
    parsed = parse_uuid(delivery_id)
    earlier = await repository.delivery(session, principal, parsed) if parsed else None
    if earlier is None:
        raise NotFound(f"No webhook delivery was found with ID {delivery_id}")
    now = clock.now()
    again = WebhookDelivery(
        event_id=earlier.event_id,
        endpoint_id=earlier.endpoint_id,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    await repository.add(session, again)
    return again
