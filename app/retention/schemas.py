"""Retention wire shapes (extensions): a tenant's policy and its destruction log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.kit.schemas import Wire
from app.retention.rules import MAX_DAYS, MIN_DAYS, POLICIES

Days = Annotated[int, Field(ge=MIN_DAYS, le=MAX_DAYS)]
# Wire name of each policy's days: sent_lines -> sentLinesDays.
WIRE = {
    name: "".join(w.capitalize() if i else w for i, w in enumerate(name.split("_"))) + "Days"
    for name in POLICIES
}


class RetentionPolicy(Wire):
    """Days each kind of record is kept (the tenant's override, else the default)."""

    model_config = ConfigDict(title="Retention policy")

    sentLinesDays: int = Field(description="Sent lines, counted from their delivery.")
    pullLogDays: int = Field(description="The IDX pull log.")
    pushOperationsDays: int = Field(description="Finished push operations.")
    webhooksDays: int = Field(description="Webhook payloads and attempts after delivery ended.")
    auditDays: int = Field(description="Re-serve audit, access log, destruction log.")
    overridden: list[str] = Field(description="The fields set by the tenant (others: defaults).")


class RetentionPolicyUpdate(BaseModel):
    """Days to keep, per kind; null puts a kind back to its default."""

    model_config = ConfigDict(title="Retention policy update", extra="forbid")

    sentLinesDays: Days | None = None
    pullLogDays: Days | None = None
    pushOperationsDays: Days | None = None
    webhooksDays: Days | None = None
    auditDays: Days | None = None


class Destruction(Wire):
    """One table's rows destroyed by one purge run or deletion: counts and dates only."""

    model_config = ConfigDict(title="Destruction log entry")

    at: datetime
    policy: str
    table: str
    rows: int
    retentionDays: int | None
    oldest: datetime | None
    newest: datetime | None


class Destructions(Wire):
    model_config = ConfigDict(title="Destruction log")

    results: list[Destruction]


def destruction_to_wire(row: object) -> Destruction:
    return Destruction(
        at=row.at,  # type: ignore[attr-defined]
        policy=row.policy,  # type: ignore[attr-defined]
        table=row.table_name,  # type: ignore[attr-defined]
        rows=row.rows,  # type: ignore[attr-defined]
        retentionDays=row.retention_days,  # type: ignore[attr-defined]
        oldest=row.oldest,  # type: ignore[attr-defined]
        newest=row.newest,  # type: ignore[attr-defined]
    )
