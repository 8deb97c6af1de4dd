"""Pendings (holds): posted one by one and judged per item, released, listed; and their links to
cleared lines, made in the cleared push's own transaction (rules in `rules.py`).

Every write takes the account's row lock first, the lock a push takes, so a push and a pending
of one account never interleave: a link is decided against everything committed before it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.accounts import service as accounts
from app.accounts.tables import SourceAccount
from app.companies import service as companies
from app.kit.errors import BadRequest, Conflict, NotFound
from app.kit.principal import Principal
from app.kit.schemas import ErrorValidationItem
from app.pendings import events, linking, repository, schemas
from app.pendings.tables import (
    HELD,
    RELEASED,
    PendingLink,
    PendingTransaction,
)

MAX_AGE_DAYS = 30
AUTO, EXPLICIT = "auto", "explicit"
_ITEM = TypeAdapter(schemas.PendingIn)
_HUNDRED = Decimal(100)
_LIMIT = Decimal(10) ** 13


# ---- the tenant's matching mode --------------------------------------------------------------


async def matching(session: AsyncSession, principal: Principal) -> schemas.MatchingSettings:
    mode = await repository.matching(session, principal.tenant_id) or EXPLICIT
    return schemas.MatchingSettings(pendingMatching=mode)


async def set_matching(
    session: AsyncSession, principal: Principal, body: schemas.MatchingSettings
) -> schemas.MatchingSettings:
    await repository.set_matching(session, principal.tenant_id, body.pendingMatching, clock.now())
    return body


# ---- posting, reading and releasing holds ----------------------------------------------------


@dataclass
class _Account:
    """The locked account and the scope its events carry."""

    row: SourceAccount
    scope: events.Scope
    today: date


async def _account(
    session: AsyncSession,
    principal: Principal,
    company_id: str,
    connection_id: str,
    account_id: str,
    *,
    lock: bool = False,
) -> _Account:
    connection, account = await accounts.get(
        session, principal, company_id, connection_id, account_id, for_update=lock
    )
    company = await companies.get(session, principal, company_id)
    zone = await companies.time_zone(session, principal, company)
    scope = events.Scope(
        principal.tenant_id,
        principal.environment,
        company.id,
        company.name,
        connection.id,
        account.account_id,
    )
    return _Account(account, scope, clock.today_in(zone))


def _problems(item: schemas.PendingIn, today: date) -> list[schemas.ItemError]:
    found: list[schemas.ItemError] = []
    amount = item.amount
    if amount == 0 or abs(amount) >= _LIMIT:  # the size first: 1e220 % 1 is InvalidOperation
        found.append(
            schemas.ItemError(
                message="amount must be non-zero with at most 13 digits before the point",
                validatorName="Amount",
            )
        )
    elif (amount * _HUNDRED) % 1:
        found.append(
            schemas.ItemError(
                message="amount has more than 2 decimal places", validatorName="Amount"
            )
        )
    if item.authorizedDate > today:
        found.append(
            schemas.ItemError(
                message=f"authorizedDate {item.authorizedDate} is in the future (today is {today})",
                validatorName="NoFutureDates",
            )
        )
    elif item.authorizedDate < today - timedelta(days=MAX_AGE_DAYS):
        found.append(
            schemas.ItemError(
                message=f"authorizedDate {item.authorizedDate} is more than {MAX_AGE_DAYS} days "
                "old",
                validatorName="MaxAge",
            )
        )
    if item.expiresOn is not None and item.expiresOn < item.authorizedDate:
        found.append(
            schemas.ItemError(
                message="expiresOn is before authorizedDate", validatorName="ExpiresOn"
            )
        )
    return found


def _parse(raw: Any) -> schemas.PendingIn | list[schemas.ItemError]:
    try:
        return _ITEM.validate_python(raw)
    except ValidationError as exc:
        return [
            schemas.ItemError(
                message=f"{'.'.join(str(p) for p in e['loc']) or 'item'}: {e['msg'].lower()}",
                validatorName="RequiredFields",
            )
            for e in exc.errors(include_url=False, include_input=False)
        ]


async def create(
    session: AsyncSession,
    principal: Principal,
    company_id: str,
    connection_id: str,
    account_id: str,
    body: schemas.PendingEnvelope,
) -> tuple[int, list[schemas.PendingItem]]:
    """Each hold judged alone: 201 created, 200 updated (a held id posted again: its amount and
    description change, the old ones go to its history), 400/409 refused. The answer is 201 when
    every item went in, 207 when some did, 400 when none did."""
    acct = await _account(session, principal, company_id, connection_id, account_id, lock=True)
    if body.accountId != acct.row.account_id:
        raise BadRequest(
            f"accountId {body.accountId!r} in the body does not match the account in the path.",
            errors=[
                ErrorValidationItem(
                    itemId="accountId",
                    message="accountId must match the path",
                    validatorName="AccountId",
                )
            ],
        )
    now = clock.now()
    ids = [linking.raw_id(raw, i) for i, raw in enumerate(body.transactions)]
    known = {
        p.pending_id: p
        for p in await repository.pendings(session, acct.row.pk, ids, for_update=True)
    }
    results: list[schemas.PendingItem] = []
    arrived: list[PendingTransaction] = []
    for index, raw in enumerate(body.transactions):
        parsed = _parse(raw)
        if isinstance(parsed, list):
            results.append(_refused(ids[index], 400, parsed))
            continue
        problems = _problems(parsed, acct.today)
        if problems:
            results.append(_refused(parsed.id, 400, problems))
            continue
        row = known.get(parsed.id)
        if row is not None and row.status != HELD:
            results.append(
                _refused(
                    parsed.id,
                    409,
                    [
                        schemas.ItemError(
                            message=f"pending {parsed.id} is {row.status}; only a held pending "
                            "can be updated",
                            validatorName="PendingState",
                        )
                    ],
                )
            )
            continue
        if row is None:
            row = PendingTransaction(
                pk=uuid.uuid4(),
                account_pk=acct.row.pk,
                pending_id=parsed.id,
                authorized_on=parsed.authorizedDate,
                amount=parsed.amount,
                description=parsed.description,
                counterparty=parsed.counterparty,
                reference=parsed.reference,
                expires_on=parsed.expiresOn,
                status=HELD,
                created_at=now,
                updated_at=now,
                history=[],
            )
            await repository.add(session, row)
            known[parsed.id] = row
            arrived.append(row)
            code = 201
        else:
            if (row.amount, row.description) != (parsed.amount, parsed.description):
                row.history = [
                    *row.history,
                    {
                        "amount": str(row.amount),
                        "description": row.description,
                        "replacedOnUtc": now.isoformat(),
                    },
                ]
            row.amount, row.description = parsed.amount, parsed.description
            row.counterparty, row.reference = parsed.counterparty, parsed.reference
            row.expires_on = parsed.expiresOn
            row.updated_at = now
            code = 200
        results.append(
            schemas.PendingItem(id=parsed.id, result=schemas.ItemResult(statusCode=code))
        )
    await session.flush()
    await linking.arrivals(session, acct.row, acct.scope, arrived)
    wire = await wire_many(session, acct.row, list(known.values()))
    for item in results:
        if item.result.statusCode in (200, 201):
            item.result.pendingTransaction = wire[item.id]
    done = sum(1 for r in results if r.result.statusCode in (200, 201))
    status = 201 if done == len(results) else 207 if done else 400
    return status, results


def _refused(ident: str, code: int, errors: list[schemas.ItemError]) -> schemas.PendingItem:
    return schemas.PendingItem(id=ident, result=schemas.ItemResult(statusCode=code, errors=errors))


async def wire_many(
    session: AsyncSession, account: SourceAccount, rows: Sequence[PendingTransaction]
) -> dict[str, schemas.PendingOut]:
    ids = [r.pending_id for r in rows]
    links: dict[str, list[PendingLink]] = {}
    for link in await repository.links_of_pendings(session, account.pk, ids):
        links.setdefault(link.pending_id, []).append(link)
    suggestions: dict[str, list[schemas.SuggestionOut]] = {}
    for s in await repository.suggestions_of(session, account.pk, ids):
        suggestions.setdefault(s.pending_id, []).append(
            schemas.SuggestionOut(transactionId=s.transaction_id, reason=s.reason)
        )
    return {
        r.pending_id: schemas.to_wire(
            r, account.account_id, links.get(r.pending_id), suggestions.get(r.pending_id)
        )
        for r in rows
    }


async def account_of(
    session: AsyncSession,
    principal: Principal,
    company_id: str,
    connection_id: str,
    account_id: str,
) -> SourceAccount:
    _, account = await accounts.get(session, principal, company_id, connection_id, account_id)
    return account


async def list_page(
    session: AsyncSession,
    principal: Principal,
    company_id: str,
    connection_id: str,
    account_id: str,
    q: schemas.PendingQuery,
) -> schemas.PendingPage:
    _, account = await accounts.get(session, principal, company_id, connection_id, account_id)
    rows, total = await repository.page(session, account.pk, q.status, q.offset, q.pageSize)
    wire = await wire_many(session, account, rows)
    return schemas.PendingPage(
        results=[wire[r.pending_id] for r in rows],
        pageNumber=q.page,
        pageSize=q.pageSize,
        totalResults=total,
    )


async def get_one(
    session: AsyncSession,
    principal: Principal,
    company_id: str,
    connection_id: str,
    account_id: str,
    pending_id: str,
) -> schemas.PendingOut:
    _, account = await accounts.get(session, principal, company_id, connection_id, account_id)
    found = await repository.pendings(session, account.pk, [pending_id])
    if not found:
        raise NotFound(f"No pending transaction was found with ID {pending_id}")
    return (await wire_many(session, account, found))[pending_id]


async def release(
    session: AsyncSession,
    principal: Principal,
    company_id: str,
    connection_id: str,
    account_id: str,
    pending_id: str,
    body: schemas.ReleaseBody,
) -> schemas.PendingOut:
    """A held pending that will never post (reversed, declined, voided) is released."""
    acct = await _account(session, principal, company_id, connection_id, account_id, lock=True)
    found = await repository.pendings(session, acct.row.pk, [pending_id], for_update=True)
    if not found:
        raise NotFound(f"No pending transaction was found with ID {pending_id}")
    row = found[0]
    if row.status != HELD:
        raise Conflict(
            f"Pending {pending_id} is {row.status}; only a held pending can be released."
        )
    now = clock.now()
    row.status, row.release_reason, row.ended_at, row.updated_at = RELEASED, body.reason, now, now
    await session.flush()
    return (await wire_many(session, acct.row, [row]))[pending_id]
