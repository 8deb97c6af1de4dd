"""Push operations that end: their state, their withdrawn transactions, and the webhook that
announces them, written in the caller's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.kit.signals import Signal
from app.transactions import repository
from app.transactions.schemas import to_wire
from app.transactions.tables import PushOperation
from app.webhooks import events as webhooks

# Operations whose unsent lines were just withdrawn (timed out, failed): answered by the holds
# above (`pendings.linking.withdrawn`: their links go), connected by app.lifecycle.install().
WITHDRAWN: Signal[[AsyncSession, list[uuid.UUID]]] = Signal("push lines withdrawn")


async def announce(session: AsyncSession, operations: Sequence[PushOperation]) -> None:
    """bankTransactions.write.successful / .unsuccessful for finished operations."""
    if not operations:
        return
    companies = await repository.companies_of(session, list({op.company_id for op in operations}))
    subscribers = webhooks.Subscribers()
    for op in operations:
        company = companies[op.company_id]
        event = (
            "bankTransactions.write.successful"
            if op.status == "Success"
            else "bankTransactions.write.unsuccessful"
        )
        await webhooks.emit(
            session,
            company.tenant_id,
            company.environment,
            event,
            {
                "referenceCompany": webhooks.company_reference(company.id, company.name),
                "companyId": str(company.id),
                "connectionId": str(op.connection_id),
                "accountId": op.account_id,
                "pushOperation": webhooks.payload_json(to_wire(op)),
            },
            subscribers,
        )


async def finish(
    session: AsyncSession,
    operations: Sequence[PushOperation],
    *,
    status: str,
    status_code: int,
    message: str | None,
) -> None:
    """Operations that will never be sent: withdraw their transactions and announce it."""
    now = clock.now()
    for op in operations:
        op.status = status
        op.status_code = status_code
        op.completed_at = op.deadline_at if status == "TimedOut" and op.deadline_at else now
        op.error_message = message.format(minutes=op.timeout_minutes) if message else None
    await repository.withdraw_pending(session, operations)
    await WITHDRAWN.send(session, [op.key for op in operations])
    await repository.refresh_latest_cleared(session, list({op.account_pk for op in operations}))
    await session.flush()
    await announce(session, operations)
