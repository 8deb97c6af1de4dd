"""All SQL of the companies domain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from app.companies.tables import Company
from app.tenants.service import Principal


def _scope(principal: Principal) -> list[ColumnElement[bool]]:
    return [Company.tenant_id == principal.tenant_id, Company.environment == principal.environment]


async def add(session: AsyncSession, company: Company) -> None:
    session.add(company)
    await session.flush()


async def get(session: AsyncSession, principal: Principal, company_id: uuid.UUID) -> Company | None:
    stmt = select(Company).where(Company.id == company_id, *_scope(principal))
    return (await session.execute(stmt)).scalar_one_or_none()


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
