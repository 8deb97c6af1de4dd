"""Reversal lines: a published line is never edited; it is offset by a new line (same amount,
opposite sign, dated today unless given, naming the original), pushed through the push's own
rules and sent like any other. Refused for a line not yet sent (withdraw or re-push it instead),
a line already reversed, or a reversal line. Each one is audited (`transaction_reversals` and a
log line) and announced (bankTransactions.reversed)."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.accounts import service as accounts
from app.companies import service as companies
from app.kit.errors import Conflict, NotFound
from app.kit.principal import Principal
from app.pendings import events, repository, schemas
from app.pendings.tables import TransactionReversal
from app.transactions import schemas as transaction_schemas
from app.transactions import service as transactions

log = logging.getLogger("app.audit")
_SWAPPED = {"Credit": "Debit", "Debit": "Credit"}


async def reverse(
    session: AsyncSession,
    principal: Principal,
    company_id: str,
    connection_id: str,
    account_id: str,
    transaction_id: str,
    body: schemas.ReversalBody,
) -> schemas.ReversalOut:
    connection, account = await accounts.get(
        session, principal, company_id, connection_id, account_id, for_update=True
    )
    original = await repository.transaction_for_update(session, account.pk, transaction_id)
    if original is None:
        raise NotFound(f"No transaction was found with ID {transaction_id}")
    if original.sent_at is None:
        raise Conflict(
            f"Transaction {transaction_id} is not published yet: nothing to reverse. Let its "
            "push time out or push the right line instead."
        )
    if await repository.reversal_of(session, account.pk, transaction_id) is not None:
        raise Conflict(f"Transaction {transaction_id} is already reversed.")
    if await repository.is_reversal_line(session, account.pk, transaction_id):
        raise Conflict(f"Transaction {transaction_id} is a reversal line; it cannot be reversed.")
    company = await companies.get(session, principal, company_id)
    today = clock.today_in(await companies.time_zone(session, principal, company))
    item: dict[str, object] = {
        "id": body.id or f"{transaction_id}-reversal",
        "date": (body.date or today).isoformat(),
        "description": body.description
        or f"Reversal of {transaction_id}: {original.description}"[:1000],
        "amount": str(-original.amount),
    }
    if original.transaction_type:
        kind = original.transaction_type
        item["transactionType"] = _SWAPPED.get(kind, kind)
    answer = await transactions.push(
        session,
        principal,
        company_id,
        connection_id,
        account_id,
        transactions.PushEnvelope(accountId=account.account_id, transactions=[item]),
        transaction_schemas.PushQuery(),
        link=False,
    )
    key = uuid.UUID(str(answer.pushOperationKey))
    now = clock.now()
    await repository.add(
        session,
        TransactionReversal(
            id=uuid.uuid4(),
            account_pk=account.pk,
            original_id=transaction_id,
            reversal_id=str(item["id"]),
            amount=-original.amount,
            push_operation_key=key,
            requested_at=now,
            environment=principal.environment,
        ),
    )
    scope = events.Scope(
        principal.tenant_id,
        principal.environment,
        company.id,
        company.name,
        connection.id,
        account.account_id,
    )
    await events.reversed_line(session, scope, transaction_id, str(item["id"]), -original.amount)
    log.info(
        "reversal line %s offsets %s",
        item["id"],
        transaction_id,
        extra={
            "fields": {
                "audit": "reversal",
                "account": account.account_id,
                "original": transaction_id,
                "reversal": item["id"],
            }
        },
    )
    return schemas.ReversalOut(
        reversedTransactionId=transaction_id,
        id=str(item["id"]),
        date=(body.date or today),
        description=str(item["description"]),
        amount=-original.amount,
        pushOperationKey=str(key),
        status=str(answer.status),
    )
