"""Each job's last run: recorded after every run (app/doctor.py's `recorded`), read by the
doctor and /metrics."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.jobruns import repository
from app.jobruns.tables import JobRun


async def record(session: AsyncSession, row: dict[str, Any]) -> None:
    """One run of a job: its last outcome, and its run and failure counts moved on."""
    await repository.record(session, row)


async def all_runs(session: AsyncSession) -> dict[str, JobRun]:
    """Every job's last run, by job name."""
    return await repository.all_runs(session)


async def first_tenant_at(session: AsyncSession) -> datetime | None:
    """When the service got its first tenant: before then no job is overdue."""
    return await repository.first_tenant_at(session)
