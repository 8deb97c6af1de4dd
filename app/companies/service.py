"""Company rules: scoped to the caller's tenant and environment; PUT replaces, PATCH merges."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app import clock, destruction
from app.companies import repository, schemas
from app.companies.tables import Company
from app.companies.zone import zone_of
from app.config import Settings
from app.connections import links as connections
from app.connections import repository as connections_repo
from app.connections import schemas as connection_schemas
from app.connections.tables import CompanyLinkOtp
from app.db import parse_uuid
from app.kit import querying
from app.kit.errors import NotFound
from app.kit.principal import Principal
from app.kit.schemas import PageQuery
from app.tenants import repository as tenants_repo

PRODUCTS = ["bank-feeds"]


async def get(session: AsyncSession, principal: Principal, company_id: str) -> Company:
    parsed = parse_uuid(company_id)
    company = await repository.get(session, principal, parsed) if parsed else None
    if company is None:
        raise NotFound(f"No company was found with ID {company_id}")
    return company


async def time_zone(session: AsyncSession, principal: Principal, company: Company) -> str:
    """The zone of the company's "today" (app/companies/zone.py), in one query."""
    zone = await repository.zone(session, principal, company.id)
    assert zone is not None
    return zone


async def create(
    session: AsyncSession, principal: Principal, body: schemas.CompanyRequestBody
) -> Company:
    company = Company(
        tenant_id=principal.tenant_id,
        environment=principal.environment,
        name=body.name,
        description=body.description,
        tags=body.tags or {},
        time_zone=body.timeZone,
        created_at=clock.now(),
    )
    await repository.add(session, company)
    return company


async def replace(
    session: AsyncSession, principal: Principal, company_id: str, body: schemas.CompanyRequestBody
) -> Company:
    company = await get(session, principal, company_id)
    company.name = body.name
    company.description = body.description
    company.tags = body.tags or {}
    company.time_zone = body.timeZone
    await session.flush()
    return company


async def update(
    session: AsyncSession,
    principal: Principal,
    company_id: str,
    body: schemas.CompanyUpdateRequest,
) -> Company:
    company = await get(session, principal, company_id)
    for field in body.model_fields_set:
        value = getattr(body, field)
        if field == "name" and value is not None:
            company.name = value
        elif field == "description":
            company.description = value
        elif field == "tags":
            company.tags = value or {}
        elif field == "timeZone":
            company.time_zone = value
    await session.flush()
    return company


async def delete(session: AsyncSession, principal: Principal, company_id: str) -> None:
    """Destroys the company: the rows that only name it first, then its cascade."""
    company = await get(session, principal, company_id)
    await destruction.company_deleted(session, company)
    await repository.remove(session, company)


def _tag_field(prop: str) -> querying.Field | None:
    if prop.startswith("tags.") and len(prop) > 5:
        return querying.Field(Company.tags[prop[5:]].as_string())
    return _FIELDS.get(prop)


_FIELDS = {
    "id": querying.Field(Company.id, "uuid"),
    "name": querying.Field(Company.name),
    "description": querying.Field(Company.description),
    "created": querying.Field(Company.created_at, "datetime"),
}


def _tags_filter(tags: str | None) -> str | None:
    """`tags=region=uk && team=x` is the query language over tag names."""
    if not tags:
        return None
    parts = []
    for alternative in tags.split("||"):
        parts.append("&&".join(f"tags.{p.strip()}" for p in alternative.split("&&")))
    return "||".join(parts)


async def page(
    session: AsyncSession, principal: Principal, q: PageQuery, tags: str | None
) -> tuple[list[Company], int]:
    where = querying.parse(q.query, _tag_field) + querying.parse(_tags_filter(tags), _tag_field)
    order = querying.order_by(
        q.orderBy,
        {"name": Company.name, "created": Company.created_at},
        [Company.created_at, Company.id],
    )
    return await repository.page(session, principal, where, order, q.offset, q.pageSize)


async def to_wire(
    session: AsyncSession, settings: Settings, principal: Principal, companies: Sequence[Company]
) -> list[schemas.Company]:
    rows = await connections_repo.of_companies(session, [c.id for c in companies])
    tenant = await tenants_repo.by_name_or_id(session, str(principal.tenant_id))
    default_zone = tenant.time_zone if tenant else settings.default_time_zone
    out = []
    for company in companies:
        conns = [
            connection_schemas.to_wire(c, connection_schemas.link_url(settings, c, None))
            for c in rows
            if c.company_id == company.id
        ]
        out.append(
            schemas.Company(
                id=str(company.id),
                name=company.name,
                description=company.description,
                redirect=connections.redirect_url(settings, company.id, None),
                lastSync=company.last_sync,
                created=company.created_at,
                products=PRODUCTS,
                tags=company.tags or {},
                dataConnections=conns,
                timeZone=zone_of(company.time_zone, default_zone),
            )
        )
    return out


async def wire_with_fresh_redirect(
    session: AsyncSession, settings: Settings, principal: Principal, company: Company
) -> schemas.Company:
    """The company as create and get answer it: `redirect` carries a fresh single-use OTP, as a
    connection's linkUrl does (lists and updates show the bare URL)."""
    otp, otp_hash, expiry = connections.fresh_otp(settings)
    await connections_repo.add(
        session, CompanyLinkOtp(company_id=company.id, otp_hash=otp_hash, expires_at=expiry)
    )
    wire = (await to_wire(session, settings, principal, [company]))[0]
    wire.redirect = connections.redirect_url(settings, company.id, otp)
    return wire
