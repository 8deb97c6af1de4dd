"""All SQL of the job-run records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.jobruns.tables import JobRun
from app.tenants.tables import Tenant


async def record(session: AsyncSession, row: dict[str, Any]) -> None:
    """Upsert the job's latest run, counting runs and failed runs."""
    failed = 1 if row["outcome"] == "failed" else 0
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(JobRun)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(JobRun)
    stmt = stmt.values(**row, runs=1, failures=failed)
    stmt = stmt.on_conflict_do_update(
        index_elements=[JobRun.job],
        set_={
            **{k: stmt.excluded[k] for k in row if k != "job"},
            "runs": JobRun.runs + 1,
            "failures": JobRun.failures + failed,
        },
    )
    await session.execute(stmt)


async def all_runs(session: AsyncSession) -> dict[str, JobRun]:
    return {r.job: r for r in (await session.execute(select(JobRun))).scalars()}


async def first_tenant_at(session: AsyncSession) -> datetime | None:
    """When the service got its first tenant: before then no job is overdue."""
    value: datetime | None = await session.scalar(select(func.min(Tenant.created_at)))
    return value
