"""Connection rules: only QBO Bank Feeds (`hcws`), linkUrl with a fresh single-use OTP."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.companies import service as companies
from app.companies.schemas import redirect_url
from app.companies.tables import Company
from app.config import Settings
from app.connections import events, repository, schemas
from app.connections.schemas import PLATFORM_KEY, PLATFORM_NAME, link_url, to_wire
from app.connections.tables import CompanyLinkOtp, Connection, LinkOtp
from app.db import parse_uuid
from app.kit import querying
from app.kit.errors import BadRequest, NotFound
from app.kit.principal import Principal
from app.kit.schemas import PageQuery
from app.kit.signals import Signal
from app.tenants.service import digest

# The client unlinked the connection (its status is set): answered by the cascades above the
# domains (app/lifecycle/), in the caller's transaction.
UNLINKED: Signal[[AsyncSession, Settings, Connection]] = Signal("connection unlinked")


def fresh_otp(settings: Settings) -> tuple[str, str, datetime]:
    """A single-use password for a link: the password, its SHA-256 (all we keep), its expiry."""
    otp = secrets.token_urlsafe(24)
    return otp, digest(otp), clock.now() + timedelta(minutes=settings.otp_ttl_minutes)


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


async def of_company(session: AsyncSession, company: Company) -> list[Connection]:
    """A company the caller found in its scope: its connections, oldest first."""
    return await repository.of_companies(session, [company.id])


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
    await UNLINKED.send(session, settings, connection)
    return connection


async def delete(
    session: AsyncSession, principal: Principal, company_id: str, connection_id: str
) -> None:
    await repository.remove(session, await get(session, principal, company_id, connection_id))


# What a company's answer asks of its connections (companies.service.CONNECTIONS and
# FRESH_REDIRECT, connected by app.lifecycle.install()).


async def wire_of_companies(
    session: AsyncSession, settings: Settings, company_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[schemas.Connection]]:
    """Each company's connections as its answer embeds them: oldest first, linkUrl bare."""
    embedded: dict[uuid.UUID, list[schemas.Connection]] = {}
    for row in await repository.of_companies(session, company_ids):
        embedded.setdefault(row.company_id, []).append(to_wire(row, link_url(settings, row, None)))
    return embedded


async def company_redirect(session: AsyncSession, settings: Settings, company_id: uuid.UUID) -> str:
    """Company.redirect with a fresh single-use password, kept (as its digest) until it expires."""
    otp, otp_hash, expiry = fresh_otp(settings)
    await repository.add(
        session, CompanyLinkOtp(company_id=company_id, otp_hash=otp_hash, expires_at=expiry)
    )
    return redirect_url(settings, company_id, otp)


# What the cross-domain cascades (app/lifecycle/) ask of the connections.


async def of_companies(session: AsyncSession, company_ids: Sequence[uuid.UUID]) -> list[Connection]:
    return await repository.of_companies(session, company_ids)


async def announce(
    session: AsyncSession, settings: Settings, connections: Sequence[Connection], event_type: str
) -> None:
    """connection.connected / connection.disconnected, by webhook."""
    await events.connections_changed(session, settings, connections, event_type)


async def mark_linked(session: AsyncSession, settings: Settings, connection_id: uuid.UUID) -> None:
    """QuickBooks signed in with the connection's credentials: a connection not yet Linked
    becomes Linked, and it is announced."""
    if await repository.mark_linked(session, connection_id):
        await announce_linked(session, settings, connection_id)


async def announce_linked(
    session: AsyncSession, settings: Settings, connection_id: uuid.UUID
) -> None:
    connection = await repository.by_id(session, connection_id)
    assert connection is not None
    await session.refresh(connection)
    await announce(session, settings, [connection], "connection.connected")


async def queried(session: AsyncSession, connection_id: uuid.UUID, at: datetime) -> bool:
    """QuickBooks queried an account of the connection at `at`: its and its company's lastSync
    move forward and it is Linked; True when it became Linked (the caller announces it)."""
    return await repository.queried(session, connection_id, at)


async def purge_otps(session: AsyncSession, expired_before: datetime) -> int:
    """The linkUrl and Company.redirect OTPs that expired before `expired_before`."""
    return await repository.purge_otps(session, expired_before)
