"""Webhook events about source accounts, in Codat's payload shapes, written in the caller's
transaction (the outbox)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import repository
from app.accounts.schemas import to_health_wire, to_wire
from app.accounts.tables import SourceAccount
from app.connections import events as connection_events
from app.webhooks import events as webhooks

FEED_HEALTH_EVENTS = ("bankFeeds.sourceAccount.stale", "bankFeeds.sourceAccount.fresh")


async def accounts_changed(
    session: AsyncSession, accounts: Sequence[SourceAccount], event_type: str
) -> None:
    """bankFeeds.sourceAccount.connected / .disconnected / .stale / .fresh."""
    if not accounts:
        return
    companies = await connection_events.companies_of(
        session, list({a.connection_id for a in accounts})
    )
    subscribers = webhooks.Subscribers()
    for account in accounts:
        company = companies[account.connection_id]
        if not await subscribers.of(session, company.tenant_id, company.environment):
            continue  # no one listens: skip building the payload
        payload = {
            "referenceCompany": webhooks.company_reference(company.id, company.name),
            "companyId": str(company.id),
            "connectionId": str(account.connection_id),
            "sourceAccount": webhooks.payload_json(to_wire(account)),
        }
        if event_type in FEED_HEALTH_EVENTS:  # ours: the account's pull state rides along
            payload["feedHealth"] = webhooks.payload_json(to_health_wire(account))
        await webhooks.emit(
            session, company.tenant_id, company.environment, event_type, payload, subscribers
        )


async def stale_accounts_disconnected(
    session: AsyncSession,
    stale: Sequence[tuple[uuid.UUID, uuid.UUID]],
    event_type: str = "bankFeeds.sourceAccount.disconnected",
) -> None:
    """A detection's batch (disconnected, or stale): accounts are loaded only for tenants that
    have endpoints."""
    if not await webhooks.any_endpoint(session):
        return
    companies = await connection_events.companies_of(session, list({c for _, c in stale}))
    subscribers = webhooks.Subscribers()
    wanted = [
        pk
        for pk, connection_id in stale
        if await subscribers.of(
            session, companies[connection_id].tenant_id, companies[connection_id].environment
        )
    ]
    if wanted:
        accounts = await repository.by_pks(session, wanted)
        await accounts_changed(session, accounts, event_type)


async def by_pks(session: AsyncSession, pks: Sequence[uuid.UUID]) -> list[SourceAccount]:
    """The accounts an event about them names (certificates' gaps)."""
    return await repository.by_pks(session, pks)
