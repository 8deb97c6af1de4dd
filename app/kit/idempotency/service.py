"""Idempotency-Key: a retry with the same key and body gets the first answer again, byte for byte.

The key is claimed (state in_flight) in a transaction of its own before the work starts, so a
concurrent retry sees it and gets 409; the answer is stored in the same transaction that commits
the work, so a stored answer always describes work that was committed. A 4xx answer is stored
too (the work stored nothing); a 5xx or a crash releases the key so the retry runs the work. A
claim left in flight longer than the lease (a process killed mid-request) is taken over.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import clock
from app.db import transaction
from app.kit.errors import BadRequest, Conflict, Unprocessable
from app.kit.idempotency import repository
from app.kit.principal import Caller

LEASE = timedelta(seconds=60)
# Retry-After on a 409 for a key in flight: most requests finish well within this.
RETRY_AFTER_MAX = 5
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Stored:
    status: int
    body: bytes


def check_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise BadRequest(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters."
        )
    return key


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    digest = hashlib.sha256(f"{method} {path}?{query}\n".encode())
    digest.update(body)
    return digest.hexdigest()


async def begin(
    sessions: async_sessionmaker[AsyncSession],
    principal: Caller,
    key: str,
    print_: str,
    ttl_hours: int,
) -> Stored | None:
    """Claim the key for this request, or return the answer already stored for it."""
    async with transaction(sessions) as session:
        return await claim(session, principal, key, print_, ttl_hours)


async def claim(
    session: AsyncSession, principal: Caller, key: str, print_: str, ttl_hours: int
) -> Stored | None:
    """`begin` inside the caller's transaction, which must commit before the work starts (the
    request's edge authenticates the caller in the same one)."""
    now = clock.now()
    fresh = {
        "tenant_id": principal.tenant_id,
        "environment": principal.environment,
        "key": key,
        "fingerprint": print_,
        "state": "in_flight",
        "status_code": None,
        "body": None,
        "created_at": now,
        "expires_at": now + timedelta(hours=ttl_hours),
    }
    if await repository.insert_if_absent(session, fresh):
        return None
    row = await repository.locked(session, principal, key)
    if (
        row is None
        or row.expires_at <= now
        or (row.state == "in_flight" and row.created_at <= now - LEASE)
    ):
        if row is not None:
            await session.delete(row)
            await session.flush()
        await repository.insert_if_absent(session, fresh)
        return None
    if row.fingerprint != print_:
        raise Unprocessable(
            "This Idempotency-Key was already used with a different request; "
            "use a new key for a new request."
        )
    if row.state == "in_flight":
        # At the latest, the claim's lease runs out and a retry takes the key over.
        left = (row.created_at + LEASE - now).total_seconds()
        raise Conflict(
            "A request with this Idempotency-Key is still being processed; retry shortly.",
            retry=True,
            headers={"Retry-After": str(max(1, min(math.ceil(left), RETRY_AFTER_MAX)))},
        )
    assert row.status_code is not None and row.body is not None
    return Stored(row.status_code, row.body)


async def finish(
    session: AsyncSession, principal: Caller, key: str, status: int, body: bytes
) -> None:
    await repository.finish(session, principal, key, status, body)


async def finish_apart(
    sessions: async_sessionmaker[AsyncSession],
    principal: Caller,
    key: str,
    status: int,
    body: bytes,
) -> None:
    async with transaction(sessions) as session:
        await repository.finish(session, principal, key, status, body)


async def release(sessions: async_sessionmaker[AsyncSession], principal: Caller, key: str) -> None:
    async with transaction(sessions) as session:
        await repository.release(session, principal, key)


async def purge(session: AsyncSession, before: datetime) -> int:
    """Kept answers that expired before `before` (housekeeping)."""
    return await repository.purge(session, before)


async def forget_mentions(
    session: AsyncSession, tenant_id: object, environment: str, groups: list[tuple[bytes, ...]]
) -> int:
    """A deletion's scrub: the tenant's kept answers naming what is deleted (every string of any
    one group in the body)."""
    return await repository.forget_mentions(session, tenant_id, environment, groups)
