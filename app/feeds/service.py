"""Feed health for support: each account's pull state, its last pulls, and re-serve.

Re-serve moves the modifiedDate of an account's sent transactions of a date range to now, so
QuickBooks' next pull brings them again; their ids do not change, so QuickBooks keeps one copy.
Every re-serve is audited (who, when, range, rows).
"""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.accounts import repository as accounts_repo
from app.accounts import schemas as account_schemas
from app.accounts.tables import SourceAccount
from app.certificates import service as certificates
from app.connections import service as connections
from app.feeds import schemas
from app.idx import repository
from app.idx.tables import IdxPull, Reserve
from app.kit.errors import BadRequest
from app.kit.principal import Principal
from app.kit.schemas import ErrorValidationItem

MAX_RESERVE_DAYS = 366


async def connection_health(
    session: AsyncSession, principal: Principal, company_id: str, connection_id: str
) -> account_schemas.FeedHealthList:
    connection = await connections.get(session, principal, company_id, connection_id)
    rows = await accounts_repo.of_connection(session, connection.id)
    gaps = await certificates.accounts_with_gap(session, [a.pk for a in rows])
    return account_schemas.FeedHealthList(
        results=[account_schemas.to_health_wire(a) for a in rows],
        accountsWithBalanceGap=len(gaps),
    )


def pull_wire(row: IdxPull) -> schemas.Pull:
    return schemas.Pull(
        pulledOnUtc=row.pulled_at,
        startDate=row.start_at,
        endDate=row.end_at,
        pageNumber=row.page_number,
        pageSize=row.page_size,
        rows=row.rows,
        totalResults=row.total,
        statusCode=row.status,
        lagSeconds=row.lag_seconds,
    )


async def last_pulls(session: AsyncSession, account: SourceAccount, limit: int) -> list[IdxPull]:
    return await repository.last_pulls(session, account.pk, limit)


def _check_range(first: date, last: date) -> None:
    problem = None
    if first > last:
        problem = "fromDate must not be after toDate."
    elif (last - first).days >= MAX_RESERVE_DAYS:
        problem = f"A re-serve covers at most {MAX_RESERVE_DAYS} days; split the range."
    if problem:
        raise BadRequest(
            problem,
            errors=[ErrorValidationItem(itemId="toDate", message=problem, validatorName="Range")],
        )


async def reserve(
    session: AsyncSession,
    principal: Principal,
    account: SourceAccount,
    first: date,
    last: date,
    actor: str,
    *,
    dry_run: bool = False,
) -> schemas.Reserve:
    """Re-publish (the caller has locked the account) and audit; a dry run only counts."""
    _check_range(first, last)
    now = clock.now()
    if dry_run:
        rows = await repository.count_reservable(session, account.pk, first, last)
        record_id = None
    else:
        rows = await repository.reserve(session, account.pk, first, last, now)
        await certificates.certify(session, [account.pk])  # re-served: awaiting delivery again
        record = Reserve(
            id=uuid.uuid4(),
            tenant_id=principal.tenant_id,
            account_pk=account.pk,
            actor=actor,
            requested_at=now,
            from_date=first,
            to_date=last,
            rows=rows,
        )
        await repository.add_reserve(session, record)
        record_id = str(record.id)
    return schemas.Reserve(
        id=record_id,
        accountId=account.account_id,
        fromDate=first,
        toDate=last,
        rows=rows,
        requestedBy=actor,
        requestedOnUtc=now,
        dryRun=dry_run,
    )


def reserve_wire(row: Reserve, account_id: str) -> schemas.Reserve:
    return schemas.Reserve(
        id=str(row.id),
        accountId=account_id,
        fromDate=row.from_date,
        toDate=row.to_date,
        rows=row.rows,
        requestedBy=row.actor,
        requestedOnUtc=row.requested_at,
        dryRun=False,
    )
