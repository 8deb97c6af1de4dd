"""Webhooks of pendings and reversals, written in the caller's transaction (the outbox):
bankTransactions.pending.posted / .pending.expired / .pending.matchSuggested and
bankTransactions.reversed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.webhooks import events as webhooks

POSTED = "bankTransactions.pending.posted"
EXPIRED = "bankTransactions.pending.expired"
SUGGESTED = "bankTransactions.pending.matchSuggested"
REVERSED = "bankTransactions.reversed"
Subscribers = webhooks.Subscribers  # one lookup of endpoints for a batch of events


@dataclass(frozen=True)
class Scope:
    """Where an event belongs: the tenant's environment, the company, connection and account."""

    tenant_id: uuid.UUID
    environment: str
    company_id: uuid.UUID
    company_name: str
    connection_id: uuid.UUID
    account_id: str


def _money(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


async def _emit(
    session: AsyncSession,
    scope: Scope,
    event: str,
    body: dict[str, Any],
    subscribers: webhooks.Subscribers | None = None,
) -> None:
    payload = {
        "referenceCompany": webhooks.company_reference(scope.company_id, scope.company_name),
        "companyId": str(scope.company_id),
        "connectionId": str(scope.connection_id),
        "accountId": scope.account_id,
        **body,
    }
    await webhooks.emit(session, scope.tenant_id, scope.environment, event, payload, subscribers)


async def posted(
    session: AsyncSession,
    scope: Scope,
    pending_id: str,
    links: list[tuple[str, str, Decimal | None]],
    subscribers: webhooks.Subscribers | None = None,
) -> None:
    """links: (transaction id, matched by, amount delta) of this pending made now."""
    await _emit(
        session,
        scope,
        POSTED,
        {
            "pendingTransactionId": pending_id,
            "transactionIds": [tid for tid, _, _ in links],
            "matchedBy": links[0][1],
            "amountDelta": _money(sum((d or Decimal(0) for _, _, d in links), Decimal(0))),
        },
        subscribers,
    )


async def expired(
    session: AsyncSession,
    scope: Scope,
    pending_id: str,
    amount: Decimal,
    subscribers: webhooks.Subscribers | None = None,
) -> None:
    await _emit(
        session,
        scope,
        EXPIRED,
        {"pendingTransactionId": pending_id, "amount": _money(amount)},
        subscribers,
    )


async def suggested(
    session: AsyncSession,
    scope: Scope,
    pending_id: str,
    transaction_id: str,
    reason: str,
    subscribers: webhooks.Subscribers | None = None,
) -> None:
    await _emit(
        session,
        scope,
        SUGGESTED,
        {"pendingTransactionId": pending_id, "transactionId": transaction_id, "reason": reason},
        subscribers,
    )


async def reversed_line(
    session: AsyncSession, scope: Scope, original_id: str, reversal_id: str, amount: Decimal
) -> None:
    await _emit(
        session,
        scope,
        REVERSED,
        {
            "transactionId": original_id,
            "reversalTransactionId": reversal_id,
            "amount": _money(amount),
        },
    )
