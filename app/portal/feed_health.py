"""Feed health for support teams: accounts at risk first, the pull-lag chart over 30 days, an
account's last pulls, and re-serve (with a confirmation step; audited under the staff email)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.accounts import repository as accounts_repo
from app.accounts.schemas import feed_health
from app.accounts.tables import SourceAccount
from app.companies.tables import Company
from app.feeds import schemas as feeds_schemas
from app.feeds import service as feeds
from app.idx import repository as pulls_repo
from app.idx.tables import IdxPull, Reserve
from app.kit.principal import Principal
from app.portal import repository
from app.portal.status import CHART_DAYS, LIMIT, AccountView

PULLS_SHOWN = 20


@dataclass
class AtRisk:
    account: SourceAccount
    company: Company
    health: str | None


@dataclass
class FeedHealthView:
    accounts: list[AtRisk]
    median_hours: dict[date, int]
    longest_hours: dict[date, int]
    last_day: date

    @property
    def days(self) -> list[tuple[date, int, int]]:
        first = self.last_day - timedelta(days=CHART_DAYS - 1)
        span = [first + timedelta(days=i) for i in range(CHART_DAYS)]
        return [(d, self.median_hours.get(d, 0), self.longest_hours.get(d, 0)) for d in span]


async def overview(session: AsyncSession, principal: Principal) -> FeedHealthView:
    rows = await repository.accounts_at_risk(
        session, principal.tenant_id, principal.environment, LIMIT
    )
    today = clock.now().date()
    since = datetime.combine(today - timedelta(days=CHART_DAYS - 1), datetime.min.time(), UTC)
    lags: dict[date, list[int]] = defaultdict(list)
    for at, seconds in await pulls_repo.lags_since(
        session, principal.tenant_id, principal.environment, since
    ):
        lags[at.date()].append(seconds)
    hours = 3600
    return FeedHealthView(
        [AtRisk(a, c, feed_health(a)) for a, c in rows],
        {d: round(statistics.median(v) / hours) for d, v in lags.items()},
        {d: round(max(v) / hours) for d, v in lags.items()},
        today,
    )


@dataclass
class PullsView:
    pulls: list[IdxPull]
    reserves: list[Reserve]


async def account_pulls(session: AsyncSession, account: SourceAccount) -> PullsView:
    return PullsView(
        await pulls_repo.last_pulls(session, account.pk, PULLS_SHOWN),
        await pulls_repo.reserves_of(session, account.pk, PULLS_SHOWN),
    )


async def reserve(
    session: AsyncSession,
    principal: Principal,
    view: AccountView,
    first: date,
    last: date,
    actor: str,
    *,
    confirmed: bool,
) -> feeds_schemas.Reserve:
    """Unconfirmed: count only (the confirmation page). Confirmed: lock, re-publish, audit."""
    account = view.account
    if confirmed:
        locked = await accounts_repo.by_pk(session, view.connection.id, account.pk, for_update=True)
        assert locked is not None
        account = locked
    return await feeds.reserve(
        session, principal, account, first, last, actor, dry_run=not confirmed
    )
