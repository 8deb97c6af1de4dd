"""All SQL of the companies domain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from app.companies.tables import Company
from app.companies.zone import ZONE_OF
from app.db import uuid_param
from app.kit.principal import Principal
from app.tenants.tables import Tenant


def _scope(principal: Principal) -> list[ColumnElement[bool]]:
    return [Company.tenant_id == principal.tenant_id, Company.environment == principal.environment]


async def add(session: AsyncSession, company: Company) -> None:
    session.add(company)
    await session.flush()


# A company of the principal, for statements built once; bind them with _owned_params.
_OWNED = (
    Company.id == uuid_param("company_id"),
    Company.tenant_id == uuid_param("tenant_id"),
    Company.environment == bindparam("environment"),
)


def _owned_params(principal: Principal, company_id: uuid.UUID) -> dict[str, object]:
    return {
        "company_id": company_id,
        "tenant_id": principal.tenant_id,
        "environment": principal.environment,
    }


# Every company-scoped request runs this: built once (no statement or cache key per call).
_GET = select(Company).where(*_OWNED)


async def get(session: AsyncSession, principal: Principal, company_id: uuid.UUID) -> Company | None:
    return (await session.execute(_GET, _owned_params(principal, company_id))).scalar_one_or_none()


# The zone of a company of the principal (app/companies/zone.py): built once.
_ZONE = (
    select(ZONE_OF).select_from(Company).join(Tenant, Tenant.id == Company.tenant_id).where(*_OWNED)
)


async def zone(session: AsyncSession, principal: Principal, company_id: uuid.UUID) -> str | None:
    params = _owned_params(principal, company_id)
    return (await session.execute(_ZONE, params)).scalar_one_or_none()


async def page(
    session: AsyncSession,
    principal: Principal,
    where: Sequence[ColumnElement[bool]],
    order: Sequence[ColumnElement[object]],
    offset: int,
    limit: int,
) -> tuple[list[Company], int]:
    conditions = [*_scope(principal), *where]
    total = (
        await session.execute(select(func.count()).select_from(Company).where(*conditions))
    ).scalar_one()
    stmt = select(Company).where(*conditions).order_by(*order).offset(offset).limit(limit)
    return list((await session.execute(stmt)).scalars()), int(total)


async def remove(session: AsyncSession, company: Company) -> None:
    await session.execute(delete(Company).where(Company.id == company.id))
