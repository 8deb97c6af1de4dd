"""Portal staff: accounts, sign-in with lock-out, and browser sessions.

Passwords are argon2id hashes (passlib, the same context as the one-time credentials). A wrong
password, an unknown e-mail and a locked account cost the same and say the same thing, so the
form cannot be used to find out who has an account. Lock-outs and limits live in `guard.py`;
the password is checked outside any transaction (argon2 takes tens of milliseconds).
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app import clock, hashing
from app.config import Settings
from app.credentials.service import HASHER
from app.db import parse_uuid
from app.kit.errors import Conflict, NotFound
from app.kit.principal import Principal
from app.portal import repository
from app.portal.tables import PortalSession, PortalUser
from app.tenants import service as tenants
from app.tenants.service import digest
from app.tenants.tables import ENVIRONMENTS, Tenant

MIN_PASSWORD = 12
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass
class Staff:
    """A signed-in portal user, the tenant they work for, and the environment they look at."""

    record: PortalSession
    user: PortalUser
    tenant: Tenant

    @property
    def principal(self) -> Principal:
        return Principal(self.tenant.id, self.record.environment)


def normal_email(email: str) -> str:
    email = email.strip().lower()
    if not _EMAIL.match(email) or len(email) > 254:
        raise ValueError(f"{email!r} is not an e-mail address")
    return email


async def add_user(
    session: AsyncSession, tenant_ref: str, email: str, password: str | None
) -> tuple[Tenant, str]:
    """Adds a staff user; returns the password (generated when none is given) to show once."""
    tenant = await tenants.get_tenant(session, tenant_ref)
    email = normal_email(email)
    if password is None:
        password = secrets.token_urlsafe(15)
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a portal password needs at least {MIN_PASSWORD} characters")
    if await repository.user_by_email(session, email) is not None:
        raise Conflict(f"a portal user {email} already exists")
    password_hash = await hashing.run(HASHER.hash, password)
    await repository.add(
        session,
        PortalUser(
            tenant_id=tenant.id,
            email=email,
            password_hash=password_hash,
            failed_attempts=0,
            created_at=clock.now(),
        ),
    )
    return tenant, password


async def list_users(session: AsyncSession, tenant_ref: str) -> list[PortalUser]:
    tenant = await tenants.get_tenant(session, tenant_ref)
    return await repository.users_of(session, tenant.id)


async def remove_user(session: AsyncSession, tenant_ref: str, email: str) -> None:
    tenant = await tenants.get_tenant(session, tenant_ref)
    if not await repository.remove_user(session, tenant.id, email.strip().lower()):
        raise NotFound(f"no portal user {email} for tenant {tenant.name}")


def sign_in_email(email: str) -> str | None:
    """The e-mail as stored, or None for what no account can have (a NUL byte, far too long)."""
    email = email.strip().lower()
    return None if "\0" in email or len(email) > 254 else email


async def password_hash(session: AsyncSession, email: str) -> tuple[uuid.UUID, str] | None:
    return await repository.password_of(session, email)


async def password_matches(
    found: tuple[uuid.UUID, str] | None, password: str, first: bool = False
) -> bool:
    """The argon2 check, on the hashing pool and outside any transaction; unknown e-mails cost
    the same."""
    if found is None or "\0" in password:
        await hashing.run(HASHER.dummy_verify, first=first)
        return False
    return bool(await hashing.run(HASHER.verify, password, found[1], first=first))


async def open_session(
    session: AsyncSession, settings: Settings, user_id: uuid.UUID, language: str
) -> tuple[str, PortalSession] | None:
    """A session for a user whose password was just checked; None if they were removed since."""
    user = await repository.user_by_id(session, user_id)
    if user is None:
        return None
    now = clock.now()
    user.last_sign_in_at = now
    token = secrets.token_urlsafe(32)
    record = PortalSession(
        token_hash=digest(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        language=language,
        environment="production",
        created_at=now,
        expires_at=now + timedelta(hours=settings.portal_session_hours),
    )
    await repository.add(session, record)
    return token, record


async def staff(session: AsyncSession, token: str | None) -> Staff | None:
    if not token:
        return None
    found = await repository.signed_in(session, digest(token), clock.now())
    return Staff(*found) if found else None


async def sign_out(session: AsyncSession, token: str) -> None:
    await repository.end_session(session, digest(token))


def set_environment(who: Staff, environment: str) -> None:
    if environment in ENVIRONMENTS:
        who.record.environment = environment


def parse_id(value: str) -> uuid.UUID | None:
    return parse_uuid(value)
