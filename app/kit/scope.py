"""The repository base: the tenant/environment scope every caller's query applies, written once.

A row that belongs to one tenant in one environment carries `tenant_id` and `environment`
(companies, webhook endpoints, access entries, the pull log, ...), directly or through the
company it joins. A repository answering a caller filters by both with `of` (values in hand) or
`of_caller`; a statement built once at import filters with `bound` and binds it with `params`
at each call:

    _GET = select(Company).where(Company.id == uuid_param("company_id"), *scope.bound(Company))
    await session.execute(_GET, scope.params(principal, company_id=company_id))
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.sql.elements import ColumnElement

from app.db import uuid_param
from app.kit.principal import Caller

Filter = tuple[ColumnElement[bool], ColumnElement[bool]]


def of(model: Any, tenant_id: uuid.UUID, environment: str) -> Filter:
    """The filter to one tenant's environment: splat it, `.where(*scope.of(...), ...)`."""
    return (model.tenant_id == tenant_id, model.environment == environment)


def of_caller(model: Any, caller: Caller) -> Filter:
    """The filter to the caller's tenant and environment."""
    return of(model, caller.tenant_id, caller.environment)


def bound(model: Any) -> Filter:
    """The same filter with bound values, for a statement built once: bind with `params`."""
    return (
        model.tenant_id == uuid_param("tenant_id"),
        model.environment == bindparam("environment"),
    )


def params(caller: Caller, **ids: object) -> dict[str, object]:
    """The values of `bound`'s parameters for this caller, with the statement's own ids."""
    return {**ids, "tenant_id": caller.tenant_id, "environment": caller.environment}
