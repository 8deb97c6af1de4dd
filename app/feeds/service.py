"""Feed health: how QuickBooks' pulls of the tenant's accounts are going, and re-serve. The one
home of its read model, for the client's API (`feeds/routes.py`) and the portal's pages alike.

An account's own feed state (its status, when QuickBooks last pulled it, since when it is
stale) is kept on the account, by the IDX's pulls and the hourly stale run; its label
(healthy, stale, disconnected) is mapped with the account's wire shapes
(`accounts/schemas.feed_health`), which its answers and webhooks carry. Here: the pull log the
IDX writes, read back (an account's last pulls, the tenant's lag per day), the accounts at risk,
a connection's health, and re-serve.

Re-serve moves the modifiedDate of an account's sent transactions of a date range to now, so
QuickBooks' next pull brings them again; their ids do not change, so QuickBooks keeps one copy.
Every re-serve is audited (who, when, range, rows).
"""

from __future__ import annotations

import statistics
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.accounts import schemas as account_schemas
from app.accounts import service as accounts
from app.accounts.tables import SourceAccount
from app.certificates import service as certificates
from app.companies.tables import Company
from app.feeds import repository, schemas
from app.idx.tables import Reserve
from app.kit.errors import BadRequest
from app.kit.principal import Principal
from app.kit.schemas import ErrorValidationItem
from app.transactions import service as transactions
from app.transactions.tables import IdxPull

MAX_RESERVE_DAYS = 366
HOUR = 3600


async def connection_health(
    session: AsyncSession, principal: Principal, company_id: str, connection_id: str
) -> account_schemas.FeedHealthList:
    rows = await accounts.list_accounts(session, principal, company_id, connection_id)
    gaps = await certificates.accounts_with_gap(session, [a.pk for a in rows])
    return account_schemas.FeedHealthList(
        results=[account_schemas.to_health_wire(a) for a in rows],
        accountsWithBalanceGap=len(gaps),
    )


# ---- the pull log, read back ------------------------------------------------------------------


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


@dataclass
class PullsView:
    """An account's last pulls and re-serves, newest first (the portal's account page)."""

    pulls: list[IdxPull]
    reserves: list[Reserve]


async def account_pulls(session: AsyncSession, account: SourceAccount, limit: int) -> PullsView:
    return PullsView(
        await repository.last_pulls(session, account.pk, limit),
        await repository.reserves_of(session, account.pk, limit),
    )


@dataclass
class AtRisk:
    account: SourceAccount
    company: Company
    health: account_schemas.FeedHealth | None


@dataclass
class Overview:
    """The tenant's accounts, at risk first, and the pull lag per day (the portal's page)."""

    accounts: list[AtRisk]
    median_hours: dict[date, int]
    longest_hours: dict[date, int]
    last_day: date
    span: int  # days the chart covers, ending on last_day

    @property
    def days(self) -> list[tuple[date, int, int]]:
        first = self.last_day - timedelta(days=self.span - 1)
        days = [first + timedelta(days=i) for i in range(self.span)]
        return [(d, self.median_hours.get(d, 0), self.longest_hours.get(d, 0)) for d in days]


async def overview(session: AsyncSession, principal: Principal, limit: int, span: int) -> Overview:
    """At most `limit` accounts QuickBooks pulls (or did), at risk first; and the median and
    longest hours between an account's pulls, per UTC day of the last `span` days."""
    rows = await repository.accounts_at_risk(
        session, principal.tenant_id, principal.environment, limit
    )
    today = clock.now().date()
    since = datetime.combine(today - timedelta(days=span - 1), datetime.min.time(), UTC)
    lags: dict[date, list[int]] = defaultdict(list)
    for at, seconds in await repository.lags_since(
        session, principal.tenant_id, principal.environment, since
    ):
        lags[at.date()].append(seconds)
    return Overview(
        [AtRisk(a, c, account_schemas.feed_health(a)) for a, c in rows],
        {d: round(statistics.median(v) / HOUR) for d, v in lags.items()},
        {d: round(max(v) / HOUR) for d, v in lags.items()},
        today,
        span,
    )


# ---- re-serve -----------------------------------------------------------------------------------


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
    company_id: str,
    connection_id: str,
    account_id: str,
    first: date,
    last: date,
    actor: str,
    *,
    dry_run: bool = False,
) -> schemas.Reserve:
    """Re-publish and audit, the account locked as a send locks it; a dry run only counts."""
    _, account = await accounts.get(
        session, principal, company_id, connection_id, account_id, for_update=True
    )
    _check_range(first, last)
    now = clock.now()
    if dry_run:
        rows = await transactions.republishable(session, account.pk, first, last)
        record_id = None
    else:
        rows = await transactions.republish(session, account.pk, first, last, now)
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
