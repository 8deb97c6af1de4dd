"""IDX transaction pages that cost the same on page 1 and page 300.

An answer is exactly "the window's sent transactions in (sent_at, id) order, skip
(page - 1) * pageSize, take pageSize", with totalResults the window's size. Nothing is remembered
between pages (no cursor, no Redis): any page, walked to or jumped to cold, is

- the window's batches (`sent_batches`: rows per sent_at, kept by every send and re-serve in its
  own transaction), a few rows: their sum is the total, and summing them in order finds the
  batch `at` where the page's offset lands, with `k` rows of that batch before it;
- one range scan of the pulls' index (account_pk, sent_at, send_seq) from the key (at, k): every
  sent row carries its place in its batch (`send_seq`, 1..n in id order, see
  transactions/send_repository.py), so no row before the page is read, whatever its number.

Both reads are app/idx/repository.py's.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.idx import repository
from app.idx.repository import PageRow


async def page(
    session: AsyncSession,
    account_pk: uuid.UUID,
    start: datetime | None,
    end: datetime | None,
    number: int,
    size: int,
) -> tuple[list[PageRow], int]:
    """One page of the window and the window's total (see the module's docstring)."""
    batches = await repository.sent_batches(session, account_pk, start, end)
    total = sum(n for _, n in batches)
    offset = (number - 1) * size
    if offset >= total:
        return [], total
    skipped = 0
    for at, n in batches:
        if skipped + n > offset:
            rows = await repository.sent_from(session, account_pk, at, offset - skipped, end, size)
            return rows, total
        skipped += n
    raise AssertionError("the offset is below the batches' total")
