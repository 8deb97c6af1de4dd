"""Who is calling, below the repositories: every client-API query is scoped by a Principal, every
IDX query by an IdxPrincipal (one QuickBooks connection's credentials)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Protocol


class Caller(Protocol):
    """What every caller has, whichever API it calls: a tenant in one environment (the
    operation layer and the idempotency keys need no more)."""

    @property
    def tenant_id(self) -> uuid.UUID: ...

    @property
    def environment(self) -> str: ...


@dataclass(frozen=True)
class Principal:
    """Who is calling: a tenant in one environment; every client-API query is scoped by it."""

    tenant_id: uuid.UUID
    environment: str
    # The API key's printed prefix (never the key): names the caller in the access log.
    key_prefix: str = field(default="", compare=False)


@dataclass(frozen=True)
class IdxPrincipal:
    """QuickBooks calling the IDX API with one credential set of one connection."""

    tenant_id: uuid.UUID
    environment: str
    connection_id: uuid.UUID
    credential_id: uuid.UUID
