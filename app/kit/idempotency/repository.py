"""All SQL of idempotency keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import insert_ignoring_conflicts
from app.kit.idempotency.tables import IdempotencyKey
from app.kit.principal import Caller


def _is(principal: Caller, key: str) -> list[object]:
    return [
        IdempotencyKey.tenant_id == principal.tenant_id,
        IdempotencyKey.environment == principal.environment,
        IdempotencyKey.key == key,
    ]


async def insert_if_absent(session: AsyncSession, row: dict[str, object]) -> bool:
    inserted = await insert_ignoring_conflicts(
        session,
        IdempotencyKey,
        [row],
        conflict_columns=["tenant_id", "environment", "key"],
        returning=IdempotencyKey.key,
    )
    return bool(inserted)


async def locked(session: AsyncSession, principal: Caller, key: str) -> IdempotencyKey | None:
    stmt = select(IdempotencyKey).where(*_is(principal, key)).with_for_update()  # type: ignore[arg-type]
    return (await session.execute(stmt)).scalar_one_or_none()


async def finish(
    session: AsyncSession, principal: Caller, key: str, status: int, body: bytes
) -> None:
    await session.execute(
        update(IdempotencyKey)
        .where(*_is(principal, key))  # type: ignore[arg-type]
        .values(state="done", status_code=status, body=body)
    )


async def release(session: AsyncSession, principal: Caller, key: str) -> None:
    await session.execute(
        delete(IdempotencyKey).where(*_is(principal, key), IdempotencyKey.state == "in_flight")  # type: ignore[arg-type]
    )


async def purge(session: AsyncSession, before: datetime) -> int:
    result = await session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at < before))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def forget_mentions(
    session: AsyncSession, tenant_id: object, environment: str, groups: list[tuple[bytes, ...]]
) -> int:
    """Deletes the tenant's kept answers that contain all of any one group of `groups` (a
    deleted company's id, its connections' ids, its accounts' quoted ids). Kept answers live a
    day, so the scope's rows are few; their bodies are compared here, alike on both databases."""
    stmt = select(IdempotencyKey.key, IdempotencyKey.body).where(
        IdempotencyKey.tenant_id == tenant_id, IdempotencyKey.environment == environment
    )
    keys = [
        key
        for key, body in (await session.execute(stmt)).all()
        if body is not None and any(all(n in body for n in group) for group in groups)
    ]
    if keys:
        await session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.tenant_id == tenant_id,
                IdempotencyKey.environment == environment,
                IdempotencyKey.key.in_(keys),
            )
        )
    return len(keys)
