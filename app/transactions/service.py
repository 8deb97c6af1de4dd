"""Pushes: judge the whole push, then store it at once as pending, with its push operation.

Each push locks its account row first, so pushes to one account run one at a time: the
duplicate-id and chronological rules always see every transaction accepted before.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any, NoReturn

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from app import clock, metrics
from app.accounts import service as accounts
from app.accounts.schemas import to_health_wire
from app.companies import service as companies
from app.db import parse_uuid, transaction
from app.kit import querying
from app.kit.errors import BadRequest, NotFound
from app.kit.principal import Principal
from app.kit.schemas import ErrorValidationItem, PageQuery
from app.pendings import linking
from app.transactions import events, history_repository, repository, rules, schemas, send_repository
from app.transactions.tables import (
    BankTransaction,
    CertificateSettings,
    PushOperation,
    PushRejection,
)

PENDING_STATUS_CODE = 202
NOTED_ERRORS = 50  # validation errors kept in a rejected push's support note


class PushEnvelope(BaseModel):
    """The push body, read loosely so every item can be judged and reported by its own id."""

    model_config = ConfigDict(extra="ignore")

    accountId: str = Field(min_length=1, max_length=100)
    transactions: list[Any]


async def settle_overdue(
    session: AsyncSession,
    *,
    account_pks: Sequence[uuid.UUID] | None = None,
    company_id: uuid.UUID | None = None,
) -> int:
    """Pending operations past their timeoutInMinutes become TimedOut and their unsent
    transactions are withdrawn (so the same ids can be pushed again)."""
    overdue = await repository.overdue_operations(
        session, clock.now(), account_pks=account_pks, company_id=company_id
    )
    if overdue:
        await events.finish(
            session,
            overdue,
            status="TimedOut",
            status_code=504,
            message="Not sent within {minutes} minutes; none of its transactions was sent. "
            "Push them again.",
        )
    return len(overdue)


async def send(session: AsyncSession, account_pks: Sequence[uuid.UUID]) -> tuple[int, int]:
    """Send every pending transaction of these accounts, which the caller has locked: they
    become visible to Intuit (modifiedDate = now) and their operations succeed. Returns
    (transactions, operations)."""
    if not account_pks:
        return 0, 0
    # The usual Update finds nothing pending: one EXISTS on the small pending index, nothing
    # more (a Pending operation always has pending transactions, so none can be overdue).
    if not await send_repository.any_pending(session, account_pks):
        return 0, 0
    await settle_overdue(session, account_pks=account_pks)
    now = clock.now()
    sent = await send_repository.mark_sent(session, account_pks, now)
    if not sent:
        return 0, 0  # what was pending timed out just now
    done = await repository.pending_operations(session, account_pks)
    for op in done:
        op.status = "Success"
        op.status_code = 200
        op.completed_at = now
    await session.flush()
    await events.announce(session, done)
    return sent, len(done)


async def republishable(
    session: AsyncSession, account_pk: uuid.UUID, first: date, last: date
) -> int:
    """How many of the account's sent transactions cleared in [first, last] a re-serve would
    publish again (app/feeds/)."""
    return await send_repository.count_sent_between(session, account_pk, first, last)


async def republish(
    session: AsyncSession, account_pk: uuid.UUID, first: date, last: date, at: datetime
) -> int:
    """A re-serve: the account's sent transactions cleared in [first, last] are published
    again at `at`, ids unchanged. The caller holds the account's lock (as a send does), so the
    two never number a batch at once. Returns how many."""
    return await send_repository.republish(session, account_pk, first, last, at)


async def claim_sendable(
    session: AsyncSession, after: uuid.UUID | None, limit: int
) -> list[uuid.UUID]:
    """The next accounts (after `after`) with pending transactions, locked with SKIP LOCKED for
    this chunk of the daily send."""
    return await send_repository.claim_sendable(session, after, limit)


async def count_pending(session: AsyncSession) -> int:
    """Pending transactions of every account (the daily send's work, a gauge)."""
    return await send_repository.count_pending(session)


class PushRejected(BadRequest):
    """A push the rules refused. Carries what the support note (PushRejection) records once the
    request's own transaction has rolled back."""

    def __init__(self, message: str, note: dict[str, Any], **kw: Any) -> None:
        super().__init__(message, **kw)
        self.note = note


async def _reject(
    session: AsyncSession,
    target: repository.PushTarget,
    body: PushEnvelope,
    state: rules.AccountState,
) -> NoReturn:
    account = target.account
    known = await repository.accepted_ids(session, account.pk, rules.raw_ids(body.transactions))
    verdict = rules.judge(body.transactions, state, known)
    metrics.PUSHES.labels("rejected").inc()
    metrics.REJECTED_TRANSACTIONS.inc(len(body.transactions))  # a rejected push stores none
    for error in verdict.errors:
        metrics.REJECTIONS.labels(error.validatorName or "unknown").inc()
    items = len({e.itemId for e in verdict.errors})
    note = {
        "company_id": target.company_id,
        "connection_id": target.connection_id,
        "account_pk": account.pk,
        "account_id": account.account_id,
        "transaction_count": len(body.transactions),
        # At most the first 50 problems: enough to act on, and a bounded note.
        "errors": [e.model_dump() for e in verdict.errors[:NOTED_ERRORS]],
    }
    raise PushRejected(
        f"The push was rejected and nothing was stored: {len(verdict.errors)} problem(s) "
        f"with {items} item(s); see validation.errors.",
        note,
        errors=verdict.errors,
        warnings=verdict.warnings,
    )


async def remember_rejection(sessions: async_sessionmaker[AsyncSession], error: Exception) -> None:
    """After a rejected push rolled back, keep a note of it (its own short transaction)."""
    if not isinstance(error, PushRejected):
        return
    async with transaction(sessions) as session:
        await repository.add_rejection(
            session, PushRejection(id=uuid.uuid4(), requested_at=clock.now(), **error.note)
        )


def _echo(item: rules.Accepted) -> schemas.BankTransactionEcho:
    """The answer's copy of an accepted item, from values the rules already checked."""
    echo: schemas.BankTransactionEcho = {
        "id": item.id,
        "date": item.date_text,
        "description": item.description,
        "amount": item.amount,
    }
    if item.balance is not None:
        echo["balance"] = item.balance
    if item.transaction_type is not None:
        echo["transactionType"] = item.transaction_type
    return echo


async def _continuity_error(
    session: AsyncSession, tenant_id: uuid.UUID, account_pk: uuid.UUID, items: list[rules.Accepted]
) -> ErrorValidationItem | None:
    """Strict balance mode only (a tenant's choice, off by default): a push without balances
    costs nothing, and a tenant that did not opt in one primary-key read."""
    if not any(i.balance is not None for i in items):
        return None
    if not await repository.strict_balances(session, tenant_id):
        return None
    running = await repository.last_line_balance(session, account_pk)
    return rules.continuity_error(items, running)


async def strict_balances(session: AsyncSession, tenant_id: uuid.UUID) -> bool:
    """Whether the tenant refuses pushes that break the running balance (strict mode)."""
    return await repository.strict_balances(session, tenant_id)


async def set_strict_balances(session: AsyncSession, tenant_id: uuid.UUID, strict: bool) -> None:
    row = await repository.balance_settings(session, tenant_id)
    if row is None:
        repository.add_balance_settings(
            session, CertificateSettings(tenant_id=tenant_id, strict=strict, updated_at=clock.now())
        )
    else:
        row.strict, row.updated_at = strict, clock.now()


async def push(
    session: AsyncSession,
    principal: Principal,
    company_id: str,
    connection_id: str,
    account_id: str,
    body: PushEnvelope,
    query: schemas.PushQuery,
    *,
    link: bool = True,
) -> schemas.CreateBankTransactionsResponse:
    now = clock.now()
    company_key, connection_key = parse_uuid(company_id), parse_uuid(connection_id)
    target = None
    if company_key and connection_key:
        target = await repository.push_target(
            session, principal, company_key, connection_key, account_id, now
        )
    if target is None:  # say which of the three is missing
        await accounts.get(session, principal, company_id, connection_id, account_id)
        raise NotFound(f"No source account was found with ID {account_id}")
    account = target.account
    if body.accountId != account.account_id:
        raise BadRequest(
            f"accountId {body.accountId!r} in the body does not match the account in the path "
            f"({account.account_id!r}).",
            errors=[
                ErrorValidationItem(
                    itemId="accountId",
                    message="accountId must match the path",
                    validatorName="AccountId",
                )
            ],
        )
    if target.has_overdue and await settle_overdue(session, account_pks=[account.pk]):
        # Withdrawn transactions may have moved the account's latest date back: read it again.
        target = await repository.push_target(
            session, principal, target.company_id, target.connection_id, account_id, now
        )
        assert target is not None  # locked by this transaction since the first read
        account = target.account
    state = rules.AccountState(
        account.status,
        account.feed_start_date,
        account.latest_cleared_on,
        clock.today_in(target.time_zone),
    )
    # Ids already accepted are looked up only when the push fails anyway, or when the unique
    # constraint rejects the insert: the lookup is the costly part of a clean push.
    verdict = rules.judge(body.transactions, state)
    if verdict.errors:
        await _reject(session, target, body, state)
    broken = await _continuity_error(session, principal.tenant_id, account.pk, verdict.items)
    if broken is not None:  # the tenant's strict balance mode (off by default)
        raise BadRequest(
            "The push was rejected and nothing was stored: a line's balance breaks the running "
            "balance (strict balance mode).",
            errors=[broken],
        )

    # Links to pendings (app/pendings): planned now, under the account's lock, written with the
    # rows below in this same transaction. They never change what is stored or published.
    links = (
        await linking.plan_push(
            session,
            principal,
            target.company_id,
            target.connection_id,
            account.pk,
            account.account_id,
            body.transactions,
            verdict.items,
        )
        if link
        else None
    )
    warnings = verdict.warnings + (links.warnings if links else [])
    now = clock.now()
    op = PushOperation(
        key=uuid.uuid4(),
        company_id=target.company_id,
        connection_id=target.connection_id,
        account_pk=account.pk,
        account_id=account.account_id,
        status="Pending",
        status_code=PENDING_STATUS_CODE,
        transaction_count=len(verdict.items),
        requested_at=now,
        timeout_minutes=query.timeoutInMinutes,
        deadline_at=now + timedelta(minutes=query.timeoutInMinutes)
        if query.timeoutInMinutes
        else None,
        warnings=[w.model_dump() for w in warnings],
    )
    account_values: dict[str, Any] = {"latest_cleared_on": max(i.cleared_on for i in verdict.items)}
    if verdict.items[-1].balance is not None:
        account_values.update(balance=verdict.items[-1].balance, modified_date=now)
    try:
        await repository.store_push(session, op, verdict.items, account_values)
    except repository.DuplicateTransaction:
        await _reject(session, target, body, state)
    if links is not None:
        await links.write(session, op.key)
    metrics.PUSHES.labels("accepted").inc()
    metrics.PUSHED_TRANSACTIONS.inc(len(verdict.items))

    wire = schemas.to_wire(op)
    # Built from values the rules already checked: no second validation pass.
    echo = schemas.PushedData.model_construct(
        accountId=account.account_id, transactions=[_echo(i) for i in verdict.items]
    )
    return schemas.CreateBankTransactionsResponse.model_construct(**dict(wire), data=echo)


_FIELDS = {
    "status": querying.Field(PushOperation.status),
    "dataConnectionKey": querying.Field(PushOperation.connection_id, "uuid"),
    "pushOperationKey": querying.Field(PushOperation.key, "uuid"),
    "requestedOnUtc": querying.Field(PushOperation.requested_at, "datetime"),
    "completedOnUtc": querying.Field(PushOperation.completed_at, "datetime"),
}


async def operations(
    session: AsyncSession, principal: Principal, company_id: str, q: PageQuery
) -> tuple[list[PushOperation], int]:
    company = await companies.get(session, principal, company_id)
    await settle_overdue(session, company_id=company.id)
    where = querying.parse(q.query, _FIELDS.get)
    order = querying.order_by(
        q.orderBy or "-requestedOnUtc",
        {
            "requestedOnUtc": PushOperation.requested_at,
            "completedOnUtc": PushOperation.completed_at,
        },
        [PushOperation.key],
    )
    rows, total = await history_repository.operations_page(
        session, company.id, where, order, q.offset, q.pageSize
    )
    await note_delivered(session, rows)
    return rows, total


async def note_delivered(session: AsyncSession, operations: Sequence[PushOperation]) -> None:
    """Successful operations not yet known delivered: once QuickBooks has fetched every one of
    their transactions, remember when (kept, so it is computed until then only)."""
    waiting = [op for op in operations if op.status == "Success" and op.delivered_at is None]
    for key, (total, done, last) in (
        await history_repository.operations_delivery(session, waiting)
    ).items():
        if total and total == done:
            next(op for op in waiting if op.key == key).delivered_at = last


async def operation(
    session: AsyncSession, principal: Principal, company_id: str, key: str
) -> PushOperation:
    company = await companies.get(session, principal, company_id)
    await settle_overdue(session, company_id=company.id)
    parsed = parse_uuid(key)
    found = await history_repository.operation(session, company.id, parsed) if parsed else None
    if found is None:
        raise NotFound(f"No push operation was found with key {key}")
    await note_delivered(session, [found])
    return found


async def recent_operations(
    session: AsyncSession, company_id: uuid.UUID, status: str | None, limit: int
) -> list[PushOperation]:
    """A company's newest push operations (in one status), for support to read: nothing is
    settled or noted on the way, unlike the client's list."""
    where = [PushOperation.status == status] if status else []
    order: list[ColumnElement[Any]] = [PushOperation.requested_at.desc(), PushOperation.key.asc()]
    rows, _ = await history_repository.operations_page(session, company_id, where, order, 0, limit)
    return rows


async def recent_transactions(
    session: AsyncSession, account_pk: uuid.UUID, state: str | None, limit: int
) -> list[tuple[BankTransaction, datetime | None]]:
    """An account's newest transactions in a delivery state, each with when it was delivered,
    for support to read."""
    rows, _ = await history_repository.account_transactions(session, account_pk, state, 0, limit)
    return rows


async def account_transactions(
    session: AsyncSession,
    principal: Principal,
    company_id: str,
    connection_id: str,
    account_id: str,
    q: schemas.TransactionsQuery,
) -> schemas.AccountTransactions:
    _, account = await accounts.get(session, principal, company_id, connection_id, account_id)
    await settle_overdue(session, account_pks=[account.pk])
    rows, total = await history_repository.account_transactions(
        session, account.pk, q.status, q.offset, q.pageSize
    )
    return schemas.AccountTransactions(
        results=[
            schemas.AccountTransaction(
                id=r.transaction_id,
                date=r.cleared_on,
                description=r.description,
                amount=r.amount,
                balance=r.balance,
                transactionType=r.transaction_type,
                counterparty=r.payee_name,
                reference=r.reference_number,
                status=schemas.delivery_state(r.sent_at, delivered),
                acceptedOnUtc=r.accepted_at,
                sentOnUtc=r.sent_at,
                deliveredOnUtc=delivered,
                pushOperationKey=str(r.push_operation_key) if r.push_operation_key else None,
            )
            for r, delivered in rows
        ],
        pageNumber=q.page,
        pageSize=q.pageSize,
        totalResults=total,
        feedHealth=to_health_wire(account),
    )


# What the cross-domain cascades (app/lifecycle/), the daily send and the edge ask of the pushes.


async def fail_pending(
    session: AsyncSession, account_pks: Sequence[uuid.UUID] | None = None
) -> int:
    """The feed of these accounts (None: of every disconnected account) was disconnected before
    their pending pushes were sent: those pushes fail, announced. Returns how many."""
    if account_pks is None:
        pending = await repository.pending_operations_of_disconnected(session)
    else:
        pending = await repository.pending_operations(session, account_pks)
    if pending:
        await events.finish(
            session,
            pending,
            status="Failed",
            status_code=400,
            message="The feed was disconnected in QuickBooks before these transactions were "
            "sent; none of them was sent.",
        )
    return len(pending)


async def purge_rejections(session: AsyncSession, before: datetime) -> int:
    """Support notes of rejected pushes made before `before`."""
    return await repository.purge_rejections(session, before)
