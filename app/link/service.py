"""Link page rules: a linkUrl OTP is spent once for a short session; credentials only after the
SMB confirms a US or Canadian location; branding per tenant and environment."""

from __future__ import annotations

import json
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from app import clock, contrast
from app.accounts import service as accounts_service
from app.accounts.tables import SourceAccount
from app.companies.tables import Company
from app.config import Settings
from app.connections import service as connections
from app.connections.schemas import PLATFORM_KEY
from app.connections.tables import CompanyLinkOtp, Connection, LinkOtp
from app.credentials import service as credentials
from app.db import parse_uuid
from app.images import BadShape, NotAnImage, TooManyPixels, reencode
from app.kit.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from app.kit.principal import Principal
from app.link import repository, schemas
from app.link.tables import LinkSession, LinkSettings
from app.tenants.service import digest
from app.tenants.tables import Tenant

log = logging.getLogger("app.link")
PNG = b"\x89PNG\r\n\x1a\n"
JPEG = b"\xff\xd8\xff"


class LinkExpired(Exception):
    """The OTP is unknown, expired, already spent, or not this connection's."""


@dataclass
class Visit:
    """A Link page session with what the pages show."""

    record: LinkSession
    connection: Connection
    company: Company
    tenant: Tenant
    branding: LinkSettings | None


@dataclass
class Opening:
    """What a link shows before its OTP is spent: whose link it is."""

    company: Company
    tenant: Tenant
    branding: LinkSettings | None


Otp = LinkOtp | CompanyLinkOtp


def _usable(row: Otp) -> bool:
    return row.used_at is None and row.expires_at > clock.now()


async def _unspent(
    session: AsyncSession, company_id: str, connection_id: str | None, otp: str, *, lock: bool
) -> tuple[Otp, Company, Tenant]:
    """The OTP of a linkUrl (connection_id given) or of a Company.redirect (None), if it is
    unspent, unexpired and this very link's; LinkExpired otherwise."""
    cid = parse_uuid(company_id)
    if not otp or cid is None:
        raise LinkExpired
    if connection_id is None:
        company_row = await repository.company_otp(session, digest(otp), lock=lock)
        if company_row is None or not _usable(company_row) or company_row.company_id != cid:
            raise LinkExpired
        owner = await repository.company_context(session, cid)
        if owner is None:
            raise LinkExpired
        return company_row, owner[0], owner[1]
    row = await repository.otp(session, digest(otp), lock=lock)
    if row is None or not _usable(row) or row.connection_id != parse_uuid(connection_id):
        raise LinkExpired
    found = await repository.context(session, row.connection_id)
    if found is None or found[1].id != cid:
        raise LinkExpired
    return row, found[1], found[2]


async def opening(
    session: AsyncSession, company_id: str, connection_id: str | None, otp: str
) -> Opening:
    """Check a link's OTP without spending it: a plain GET (a mail scanner, a link preview, the
    SMB's first click) changes nothing."""
    _, company, tenant = await _unspent(session, company_id, connection_id, otp, lock=False)
    branding = await repository.settings(session, company.tenant_id, company.environment)
    return Opening(company, tenant, branding)


async def branding_for_otp(session: AsyncSession, otp: str) -> LinkSettings | None:
    """The branding an unspent OTP's landing page shows (its logo and accent colour)."""
    if not otp:
        return None
    company_id: uuid.UUID | None = None
    row = await repository.otp(session, digest(otp), lock=False)
    if row is not None and _usable(row):
        found = await repository.context(session, row.connection_id)
        company_id = found[1].id if found else None
    else:
        company_row = await repository.company_otp(session, digest(otp), lock=False)
        if company_row is not None and _usable(company_row):
            company_id = company_row.company_id
    owner = await repository.company_context(session, company_id) if company_id else None
    if owner is None:
        return None
    return await repository.settings(session, owner[0].tenant_id, owner[0].environment)


async def start(
    session: AsyncSession,
    settings: Settings,
    company_id: str,
    connection_id: str | None,
    otp: str,
    language: str,
) -> str:
    """Spend the OTP (once) and open a session; returns the cookie's token. A Company.redirect
    (no connection_id) opens the company's newest QuickBooks connection, made if it has none."""
    now = clock.now()
    row, company, _ = await _unspent(session, company_id, connection_id, otp, lock=True)
    if isinstance(row, LinkOtp):
        target = row.connection_id
    else:
        connection = await repository.newest_connection(session, company.id, PLATFORM_KEY)
        if connection is None:
            connection = connections.new_connection(company)
            await repository.add(session, connection)
        target = connection.id
    row.used_at = now
    token = secrets.token_urlsafe(32)
    await repository.add(
        session,
        LinkSession(
            token_hash=digest(token),
            connection_id=target,
            csrf_token=secrets.token_urlsafe(32),
            language=language,
            location_confirmed=None,
            created_at=now,
            expires_at=now + timedelta(minutes=settings.link_session_minutes),
        ),
    )
    return token


async def visit(session: AsyncSession, token: str | None) -> Visit | None:
    if not token:
        return None
    record = await repository.session_by_token(session, digest(token), clock.now())
    if record is None:
        return None
    found = await repository.context(session, record.connection_id)
    if found is None:
        return None
    connection, company, tenant = found
    branding = await repository.settings(session, company.tenant_id, company.environment)
    return Visit(record, connection, company, tenant, branding)


async def accounts(session: AsyncSession, visit: Visit) -> list[SourceAccount]:
    """The visited connection's source accounts, as step 2 lists them."""
    return await accounts_service.of_connection(session, visit.connection.id)


async def get_credentials(
    session: AsyncSession, settings: Settings, redis: Redis, visit: Visit
) -> tuple[str, str] | None:
    """A new set for the visited connection, or None once the session has made
    `link_credentials_per_session` sets. The budget is taken before the set is hashed (a spent
    session costs no argon2), and the session's previous set is revoked if nobody used it."""
    token_hash = visit.record.token_hash
    limit = settings.link_credentials_per_session
    if visit.record.credentials_issued >= limit:  # spent: no lock, no hash, nothing written
        return None
    if not await repository.reserve_credentials(session, token_hash, limit):
        return None
    credential_id, username, password = await credentials.issue(
        session, settings, redis, visit.connection
    )
    previous = await repository.remember_credential(session, token_hash, credential_id)
    if previous is not None:
        await credentials.revoke_unclaimed(session, previous)
    return username, password


@dataclass(frozen=True)
class Spent:
    """What the cheap "budget spent" answer shows, kept in Redis once the database said so."""

    language: str
    client: str


def spent_key(settings: Settings, token: str) -> str:
    """The Redis key that says this session's "Get credentials" budget is spent (hashed)."""
    return f"{settings.redis_prefix}link:spent:{digest(token)[:32]}"


async def remember_spent(redis: Redis, settings: Settings, token: str, visit: Visit) -> None:
    """The database said this session's budget is spent: say so in Redis until the session
    ends, so the next presses are answered without any database work. Spent never becomes
    unspent (the budget only grows), so the mark can only repeat the database's answer."""
    until = visit.record.expires_at
    seconds = int((until - clock.now()).total_seconds())
    if seconds < 1:
        return
    value = {"language": visit.record.language, "client": visit.tenant.name}
    value["until"] = until.isoformat()
    try:
        await redis.set(spent_key(settings, token), json.dumps(value), ex=seconds)
    except (RedisError, OSError) as exc:  # the database answers every press instead
        log.warning("could not remember a spent Link session (%s)", type(exc).__name__)


async def forget_spent(redis: Redis, settings: Settings, token: str) -> None:
    """The page changed (its language, the location): the next press asks the database."""
    try:
        await redis.delete(spent_key(settings, token))
    except (RedisError, OSError) as exc:
        log.warning("could not forget a spent Link session (%s)", type(exc).__name__)


def spent_from(raw: bytes | str | None) -> Spent | None:
    """The spent mark read with the press's rate-limit window (one round trip), if it is
    still within its session (by the app clock)."""
    if not raw:
        return None
    try:
        value = json.loads(raw)
        until = datetime.fromisoformat(value["until"])
        spent = Spent(str(value["language"]), str(value["client"]))
    except (ValueError, KeyError, TypeError):
        return None
    return spent if clock.now() < until else None


async def revoke(session: AsyncSession, visit: Visit) -> int:
    """The SMB revokes every credential of the visited connection (QuickBooks is cut off)."""
    return await credentials.revoke_all(session, visit.connection.id, clock.now())


async def current(session: AsyncSession, principal: Principal) -> LinkSettings | None:
    """The tenant's branding in the caller's environment (None until first saved)."""
    return await repository.settings(session, principal.tenant_id, principal.environment)


def ink_on(color: str) -> str:
    """Black or white, whichever has the higher WCAG contrast ratio on the accent #RRGGBB."""
    return contrast.ink_on(color)


def callout(branding: LinkSettings | None, language: str) -> tuple[str, str] | None:
    """The callout in the page's language, falling back to English."""
    if branding is None or not branding.callout_title_en:
        return None
    if language == "fr" and branding.callout_title_fr:
        return branding.callout_title_fr, branding.callout_body_fr or ""
    return branding.callout_title_en, branding.callout_body_en or ""


def to_wire(row: LinkSettings | None) -> schemas.LinkSettingsOut:
    if row is None:
        return schemas.LinkSettingsOut(accentColor="#0b6e4f")
    callouts = None
    if row.callout_title_en:
        fr = None
        if row.callout_title_fr:
            fr = schemas.Callout(title=row.callout_title_fr, body=row.callout_body_fr or "")
        callouts = schemas.Callouts(
            en=schemas.Callout(title=row.callout_title_en, body=row.callout_body_en or ""), fr=fr
        )
    logo = None
    if row.logo:
        logo = schemas.LogoInfo(contentType=row.logo_type or "", sizeBytes=len(row.logo))
    return schemas.LinkSettingsOut(
        callout=callouts, accentColor=row.accent_color, logo=logo, updatedOnUtc=row.updated_at
    )


async def _row(session: AsyncSession, principal: Principal) -> LinkSettings:
    row = await repository.settings(session, principal.tenant_id, principal.environment)
    if row is None:
        row = LinkSettings(
            tenant_id=principal.tenant_id,
            environment=principal.environment,
            accent_color="#0b6e4f",
            updated_at=clock.now(),
        )
        await repository.add(session, row)
    return row


async def replace(
    session: AsyncSession, principal: Principal, body: schemas.LinkSettingsBody
) -> LinkSettings:
    row = await _row(session, principal)
    en = body.callout.en if body.callout else None
    fr = body.callout.fr if body.callout else None
    row.callout_title_en, row.callout_body_en = (en.title, en.body) if en else (None, None)
    row.callout_title_fr, row.callout_body_fr = (fr.title, fr.body) if fr else (None, None)
    row.accent_color = body.accentColor.lower()
    row.updated_at = clock.now()
    await session.flush()
    return row


def logo_type(content: bytes, max_side: int) -> tuple[bytes, str]:
    """PNG or JPEG, judged by decoding the image itself (never by a name or a header); answers
    the re-encoded copy to store and its type."""
    if not content.startswith((PNG, JPEG)):
        raise UnsupportedMediaType(
            "The logo must be a PNG or JPEG image; SVG and other types are refused."
        )
    try:
        return reencode(content, max_side)
    except TooManyPixels as exc:
        raise PayloadTooLarge(str(exc)) from exc
    except BadShape as exc:
        raise BadRequest(str(exc)) from exc
    except NotAnImage as exc:
        raise UnsupportedMediaType(str(exc)) from exc


async def set_logo(
    session: AsyncSession, settings: Settings, principal: Principal, content: bytes
) -> LinkSettings:
    if not content:
        raise BadRequest("Send the logo's bytes as the request body.")
    if len(content) > settings.logo_max_bytes:
        raise PayloadTooLarge(f"The logo is larger than {settings.logo_max_bytes} bytes.")
    content, kind = logo_type(content, settings.logo_max_pixels)
    row = await _row(session, principal)
    row.logo, row.logo_type, row.updated_at = content, kind, clock.now()
    await session.flush()
    return row


async def purge_sessions(session: AsyncSession, before: datetime) -> int:
    """Link sessions that expired before `before` (housekeeping)."""
    return await repository.purge_sessions(session, before)
