"""Webhook events about connections, in Codat's payload shapes (accounts: accounts/events.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.companies.tables import Company
from app.config import Settings
from app.connections import repository
from app.connections.schemas import link_url, to_wire
from app.connections.tables import Connection
from app.webhooks import events as webhooks


async def connections_changed(
    session: AsyncSession, settings: Settings, connections: Sequence[Connection], event_type: str
) -> None:
    """connection.connected / connection.disconnected."""
    if not connections:
        return
    companies = await companies_of(session, [c.id for c in connections])
    subscribers = webhooks.Subscribers()
    for connection in connections:
        company = companies[connection.id]
        await webhooks.emit(
            session,
            company.tenant_id,
            company.environment,
            event_type,
            {
                "referenceCompany": webhooks.company_reference(company.id, company.name),
                "companyId": str(company.id),
                "connectionId": str(connection.id),
                "connection": webhooks.payload_json(
                    to_wire(connection, link_url(settings, connection, None))
                ),
            },
            subscribers,
        )


async def companies_of(
    session: AsyncSession, connection_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Company]:
    """The company of each connection: whom an event about what hangs under a connection (its
    accounts, their certificates) is for."""
    return await repository.companies_of_connections(session, connection_ids)
