"""Who is calling, below the repositories: every client-API query is scoped by a Principal."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    """Who is calling: a tenant in one environment; every client-API query is scoped by it."""

    tenant_id: uuid.UUID
    environment: str
