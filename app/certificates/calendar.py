"""The portal's calendar of an account's certificates: whole weeks (Monday first) up to the
latest certified-or-not day, and the first gap with its lines."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.certificates import repository
from app.certificates.tables import BalanceCertificate
from app.transactions.tables import BankTransaction

WEEKS = 6


@dataclass
class Calendar:
    weeks: list[list[tuple[date, BalanceCertificate | None]]]
    first_gap: BalanceCertificate | None
    gap_lines: list[BankTransaction]
    counts: dict[str, int]


async def calendar(session: AsyncSession, account_pk: uuid.UUID, today: date) -> Calendar:
    last = await repository.latest_day(session, account_pk) or today
    end = last + timedelta(days=6 - last.weekday())  # the Sunday of its week
    start = end - timedelta(days=7 * WEEKS - 1)
    rows, _ = await repository.page(session, account_pk, start, end, 0, 7 * WEEKS)
    by_day = {r.day: r for r in rows}
    days = [start + timedelta(days=i) for i in range(7 * WEEKS)]
    weeks = [[(d, by_day.get(d)) for d in days[i : i + 7]] for i in range(0, len(days), 7)]
    gap = await repository.first_gap(session, account_pk)
    lines = await repository.day_lines(session, account_pk, gap.day) if gap else []
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    return Calendar(weeks, gap, lines, counts)
