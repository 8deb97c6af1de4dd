"""Webhooks of balance certificates, written in the caller's transaction (the outbox):
bankFeeds.sourceAccount.balanceGap when a revision of a day is a gap (a revision is issued once,
so it is announced once), and one bankFeeds.sourceAccount.balanceCertified digest a day per
connection."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import events as account_events
from app.accounts.tables import SourceAccount
from app.certificates import repository
from app.certificates.schemas import to_wire
from app.certificates.tables import BalanceCertificate
from app.connections import events as connection_events
from app.webhooks import events as webhooks

GAP_EVENT = "bankFeeds.sourceAccount.balanceGap"
DIGEST_EVENT = "bankFeeds.sourceAccount.balanceCertified"
DIGEST_BATCH = 5000


async def gaps_found(session: AsyncSession, gaps: Sequence[BalanceCertificate]) -> int:
    accounts = {a.pk: a for a in await account_events.by_pks(session, [g.account_pk for g in gaps])}
    companies = await connection_events.companies_of(
        session, list({a.connection_id for a in accounts.values()})
    )
    subscribers = webhooks.Subscribers()
    sent = 0
    for gap in gaps:
        account = accounts[gap.account_pk]
        company = companies[account.connection_id]
        payload = {
            "referenceCompany": webhooks.company_reference(company.id, company.name),
            "companyId": str(company.id),
            "connectionId": str(account.connection_id),
            "sourceAccountId": account.account_id,
            "certificate": webhooks.payload_json(to_wire(gap)),
        }
        sent += await webhooks.emit(
            session, company.tenant_id, company.environment, GAP_EVENT, payload, subscribers
        )
    return sent


def _entry(row: BalanceCertificate, account: SourceAccount) -> dict[str, object]:
    return {
        "sourceAccountId": account.account_id,
        "date": row.day.isoformat(),
        "revision": row.revision,
        "closing": webhooks.payload_json(to_wire(row))["closing"],
        "chainDigest": row.chain_digest,
    }


async def send_digests(session: AsyncSession, today: date, now: datetime) -> int:
    """Days certified since the last digest, one event per connection, at most once a day per
    connection (a connection already told today waits for tomorrow's)."""
    rows = await repository.undigested(session, DIGEST_BATCH)
    by_connection: dict[uuid.UUID, list[tuple[BalanceCertificate, SourceAccount]]] = {}
    for row, account in rows:
        by_connection.setdefault(account.connection_id, []).append((row, account))
    if not by_connection:
        return 0
    companies = await connection_events.companies_of(session, list(by_connection))
    subscribers = webhooks.Subscribers()
    sent = 0
    for connection_id, items in by_connection.items():
        if not await repository.claim_digest(session, connection_id, today):
            continue  # told today already (or another worker is telling it now)
        company = companies[connection_id]
        payload = {
            "referenceCompany": webhooks.company_reference(company.id, company.name),
            "companyId": str(company.id),
            "connectionId": str(connection_id),
            "certified": [_entry(row, account) for row, account in items],
        }
        await webhooks.emit(
            session, company.tenant_id, company.environment, DIGEST_EVENT, payload, subscribers
        )
        for row, _ in items:
            row.digested_at = now
        sent += 1
    return sent
