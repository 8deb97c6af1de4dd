"""Portal staff: accounts, sign-in with lock-out, and browser sessions.

Passwords are argon2id hashes (passlib, the same context as the one-time credentials). A wrong
password, an unknown e-mail and a locked account cost the same and say the same thing, so the
form cannot be used to find out who has an account. After `portal_max_failures` wrong passwords
in a row the account is locked for `portal_lockout_minutes`, whatever password is tried meanwhile.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.config import Settings
from app.credentials.service import HASHER
from app.db import parse_uuid
from app.errors import Conflict, NotFound
from app.portal import repository
from app.portal.tables import PortalSession, PortalUser
from app.tenants import service as tenants
from app.tenants.service import Principal, digest
from app.tenants.tables import ENVIRONMENTS, Tenant

MIN_PASSWORD = 12
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class SignInFailed(Exception):
    """Wrong e-mail or password, or the account is locked; `locked` says which to show."""

    def __init__(self, locked: bool = False) -> None:
        super().__init__("sign-in failed")
        self.locked = locked


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
    password_hash = await asyncio.to_thread(HASHER.hash, password)
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


async def sign_in(
    session: AsyncSession, settings: Settings, email: str, password: str, language: str
) -> tuple[str, PortalSession]:
    """Checks the password and opens a session; returns the cookie's token and the session."""
    now = clock.now()
    user = await repository.user_by_email(session, email.strip().lower())
    if user is None:
        await asyncio.to_thread(HASHER.dummy_verify)
        raise SignInFailed
    if user.locked_until is not None and user.locked_until > now:
        await asyncio.to_thread(HASHER.dummy_verify)  # as slow as any other answer
        raise SignInFailed(locked=True)
    if not await asyncio.to_thread(HASHER.verify, password, user.password_hash):
        user.failed_attempts += 1
        locked = user.failed_attempts >= settings.portal_max_failures
        if locked:
            user.locked_until = now + timedelta(minutes=settings.portal_lockout_minutes)
            user.failed_attempts = 0
        await session.flush()
        raise SignInFailed(locked=locked)
    user.failed_attempts, user.locked_until, user.last_sign_in_at = 0, None, now
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
