"""IDX transaction pages that cost the same on page 1 and page 300.

An answer is still exactly "the window's sent transactions in (sent_at, id) order, skip
(page - 1) * pageSize, take pageSize", with totalResults the window's size. Two things make it
cheap:

- the total is the sum of the window's sent batches (`sent_batches`: rows per sent_at, kept by
  every send and re-serve in its own transaction), a few rows instead of a count of the window;
- the last key of each answered page is remembered in Redis for a short while, with a
  fingerprint of the batches up to it. Page N + 1 starts a range scan right after page N's last
  key when the fingerprint still matches (no send or re-serve changed any batch at or before
  that key, so the rows before it are the same rows); otherwise, or when the key is unknown or
  Redis is away, it skips with OFFSET, from the batch where the page starts.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import uuid
from collections.abc import Sequence
from datetime import datetime

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from app.transactions import send_repository
from app.transactions.send_repository import PageRow

# Long enough for QuickBooks to walk a window page by page, short enough to stay small.
CURSOR_TTL_SECONDS = 600

Batch = tuple[datetime, int, int]


def fingerprint(batches: Sequence[Batch], upto: datetime) -> str:
    """What the rows at or before `upto` depend on: every batch up to it, with its change count."""
    seen = [(at.isoformat(), n, changes) for at, n, changes in batches if at <= upto]
    return hashlib.blake2b(repr(seen).encode(), digest_size=12).hexdigest()


class PageCursors:
    """Last keys of answered pages, per (account, window, page size, page)."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix

    def _key(
        self,
        account_pk: uuid.UUID,
        start: datetime | None,
        end: datetime | None,
        size: int,
        page: int,
    ) -> str:
        window = f"{start.isoformat() if start else ''}/{end.isoformat() if end else ''}"
        return f"{self.prefix}idx:page:{account_pk}:{window}:{size}:{page}"

    async def get(
        self,
        account_pk: uuid.UUID,
        start: datetime | None,
        end: datetime | None,
        size: int,
        page: int,
    ) -> tuple[datetime, int, str] | None:
        try:
            raw = await self.redis.get(self._key(account_pk, start, end, size, page))
        except RedisError:
            return None
        if raw is None:
            return None
        at, ident, mark = json.loads(raw)
        return datetime.fromisoformat(at), int(ident), str(mark)

    async def put(
        self,
        account_pk: uuid.UUID,
        start: datetime | None,
        end: datetime | None,
        size: int,
        page: int,
        value: tuple[datetime, int, str],
    ) -> None:
        at, ident, mark = value
        key = self._key(account_pk, start, end, size, page)
        with contextlib.suppress(RedisError):  # else the next page skips with OFFSET
            await self.redis.set(
                key, json.dumps([at.isoformat(), ident, mark]), ex=CURSOR_TTL_SECONDS
            )


async def page(
    session: AsyncSession,
    cursors: PageCursors,
    account_pk: uuid.UUID,
    start: datetime | None,
    end: datetime | None,
    number: int,
    size: int,
) -> tuple[list[PageRow], int]:
    """One page of the window and the window's total (see the module's docstring)."""
    batches = await send_repository.sent_batches(session, account_pk, start, end)
    total = sum(n for _, n, _ in batches)
    offset = (number - 1) * size
    if offset >= total:
        return [], total
    after = None
    if number > 1:
        known = await cursors.get(account_pk, start, end, size, number - 1)
        if known is not None and known[2] == fingerprint(batches, known[0]):
            after = known[0], known[1]
    if after is not None:
        rows = await send_repository.sent_after(session, account_pk, after, end, size)
    else:
        skipped, first = 0, start
        for at, n, _ in batches:
            if skipped + n > offset:
                first = at
                break
            skipped += n
        rows = await send_repository.sent_between(
            session, account_pk, first, end, offset - skipped, size
        )
    if rows:
        last = rows[-1]
        assert last.sent_at is not None
        mark = fingerprint(batches, last.sent_at)
        await cursors.put(account_pk, start, end, size, number, (last.sent_at, last.id, mark))
    return rows, total
