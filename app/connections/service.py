"""Connection rules: only QBO Bank Feeds (`hcws`), linkUrl with a fresh single-use OTP."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app import clock, lifecycle
from app.companies import service as companies
from app.companies.tables import Company
from app.config import Settings
from app.connections import repository, schemas
from app.connections.links import fresh_otp
from app.connections.schemas import PLATFORM_KEY, PLATFORM_NAME, link_url, to_wire
from app.connections.tables import Connection, LinkOtp
from app.db import parse_uuid
from app.kit import querying
from app.kit.errors import BadRequest, NotFound
from app.kit.principal import Principal
from app.kit.schemas import PageQuery


async def issue_otp(
    session: AsyncSession, settings: Settings, connection: Connection
) -> tuple[str, datetime]:
    otp, otp_hash, expiry = fresh_otp(settings)
    await repository.add(
        session, LinkOtp(connection_id=connection.id, otp_hash=otp_hash, expires_at=expiry)
    )
    return otp, expiry


def new_connection(company: Company) -> Connection:
    """A QuickBooks Online Bank Feeds connection waiting for QuickBooks (PendingAuth)."""
    return Connection(
        company_id=company.id,
        platform_key=PLATFORM_KEY,
        status="PendingAuth",
        created_at=clock.now(),
    )


async def wire_with_fresh_link(
    session: AsyncSession, settings: Settings, connection: Connection
) -> schemas.Connection:
    otp, _ = await issue_otp(session, settings, connection)
    return to_wire(connection, link_url(settings, connection, otp))


async def get(
    session: AsyncSession, principal: Principal, company_id: str, connection_id: str
) -> Connection:
    cid, kid = parse_uuid(company_id), parse_uuid(connection_id)
    found = None
    if cid is not None and kid is not None:
        found = await repository.get(session, principal, cid, kid)
    if found is None:
        raise NotFound(f"Data connection {connection_id} not found")
    return found


async def create(
    session: AsyncSession, principal: Principal, company_id: str, body: schemas.CreateConnection
) -> Connection:
    company = await companies.get(session, principal, company_id)
    if body.platformKey != PLATFORM_KEY:
        raise BadRequest(
            f"Unknown platform key {body.platformKey!r}: this service supports only "
            f"{PLATFORM_KEY!r} ({PLATFORM_NAME})."
        )
    connection = new_connection(company)
    await repository.add(session, connection)
    return connection


_FIELDS = {
    "id": querying.Field(Connection.id, "uuid"),
    "status": querying.Field(Connection.status),
    "integrationKey": querying.Field(Connection.platform_key),
    "created": querying.Field(Connection.created_at, "datetime"),
}


async def page(
    session: AsyncSession, principal: Principal, company_id: str, q: PageQuery
) -> tuple[list[Connection], int]:
    company = await companies.get(session, principal, company_id)
    where = querying.parse(q.query, _FIELDS.get)
    order = querying.order_by(
        q.orderBy,
        {"created": Connection.created_at, "status": Connection.status},
        [Connection.created_at, Connection.id],
    )
    return await repository.page(session, company.id, where, order, q.offset, q.pageSize)


async def update(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    company_id: str,
    connection_id: str,
    body: schemas.UpdateConnection,
) -> Connection:
    connection = await get(session, principal, company_id, connection_id)
    if body.status is None or body.status == connection.status:
        return connection
    if body.status != "Unlinked":
        raise BadRequest(
            f"A connection's status can only be set to Unlinked, not {body.status}; "
            "Linked and PendingAuth follow from QuickBooks' own calls."
        )
    await repository.set_status(session, connection, "Unlinked")
    await lifecycle.client_unlinked(session, settings, connection)
    return connection


async def delete(
    session: AsyncSession, principal: Principal, company_id: str, connection_id: str
) -> None:
    await repository.remove(session, await get(session, principal, company_id, connection_id))
