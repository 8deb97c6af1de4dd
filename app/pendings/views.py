"""What people see of holds: the portal's account page and feed health, the Link page's
account step (how much is on hold)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.accounts.tables import SourceAccount
from app.kit.principal import Principal
from app.pendings import repository, schemas
from app.pendings.service import wire_many

STALE_HOLD_DAYS = 7  # feed health warns about holds older than this


@dataclass(frozen=True)
class HoldSummary:
    count: int
    total: Decimal
    oldest: date | None


async def holds_summary(
    session: AsyncSession, account_pks: Sequence[uuid.UUID]
) -> dict[uuid.UUID, HoldSummary]:
    """Per account with holds: how many are held, their total and the oldest authorization."""
    found = await repository.holds_summary(session, account_pks)
    return {
        pk: HoldSummary(n, Decimal(str(total)), oldest) for pk, (n, total, oldest) in found.items()
    }


@dataclass(frozen=True)
class HoldsView:
    summary: HoldSummary | None
    rows: list[schemas.PendingOut]
    stale_before: date


async def holds_view(session: AsyncSession, account: SourceAccount, limit: int) -> HoldsView:
    """An account's holds for the portal: the held ones' count, total and oldest, and the newest
    pendings of every state with their links and amount deltas."""
    summary = (await holds_summary(session, [account.pk])).get(account.pk)
    rows, _ = await repository.page(session, account.pk, None, 0, limit)
    wire = await wire_many(session, account, rows)
    stale = clock.now().date() - timedelta(days=STALE_HOLD_DAYS)
    return HoldsView(summary, [wire[r.pending_id] for r in rows], stale)


async def old_holds(
    session: AsyncSession, principal: Principal, limit: int
) -> list[repository.OldHolds]:
    """Accounts of the caller's tenant holding a pending authorized more than 7 days ago."""
    before = clock.now().date() - timedelta(days=STALE_HOLD_DAYS)
    return await repository.old_holds(
        session, principal.tenant_id, principal.environment, before, limit
    )
