"""Tenant and key rules: keys are random, shown once, stored as SHA-256, at most N active.

API and partner keys carry 256 bits of randomness, so a fast hash is as safe as a slow one
against guessing, and lets every request find its key by an indexed lookup. Human-chosen
secrets (credentials, portal passwords) use passlib's argon2 instead.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.kit.errors import Conflict, NotFound
from app.kit.principal import Principal
from app.tenants import repository
from app.tenants.tables import ENVIRONMENTS, ApiKey, PartnerKey, Tenant

_KEY_PREFIX = {"production": "bfk_live_", "sandbox": "bfk_test_"}
_PARTNER_PREFIX = {"production": "bfp_live_", "sandbox": "bfp_test_"}


@dataclass(frozen=True)
class NewTenant:
    tenant: Tenant
    api_keys: dict[str, str]
    partner_keys: dict[str, str]


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def decode_basic_api_key(header: str | None) -> str | None:
    """`Basic base64(API_KEY)` → the key, or None when the header is anything else."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        return None
    try:
        key = base64.b64decode(value.strip(), validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        return None
    if not key or any(c.isspace() for c in key):
        return None
    return key


def check_environment(environment: str) -> str:
    if environment not in ENVIRONMENTS:
        raise ValueError(f"environment must be one of {', '.join(ENVIRONMENTS)}")
    return environment


async def _new_api_key(session: AsyncSession, tenant: Tenant, environment: str, limit: int) -> str:
    if await repository.active_key_count(session, tenant.id) >= limit:
        raise Conflict(
            f"tenant {tenant.name} already has {limit} active API keys; revoke one first"
        )
    key = _KEY_PREFIX[environment] + secrets.token_urlsafe(32)
    await repository.add(
        session,
        ApiKey(
            tenant_id=tenant.id,
            environment=environment,
            key_hash=digest(key),
            prefix=key[:13],
            created_at=clock.now(),
        ),
    )
    return key


async def _new_partner_key(session: AsyncSession, tenant: Tenant, environment: str) -> str:
    key = _PARTNER_PREFIX[environment] + secrets.token_urlsafe(32)
    await repository.add(
        session,
        PartnerKey(
            tenant_id=tenant.id,
            environment=environment,
            key_hash=digest(key),
            created_at=clock.now(),
        ),
    )
    return key


async def create_tenant(
    session: AsyncSession, name: str, time_zone: str, key_limit: int
) -> NewTenant:
    name = name.strip()
    if not name:
        raise ValueError("a tenant needs a name")
    if await repository.by_name(session, name) is not None:
        raise Conflict(f"a tenant named {name!r} already exists")
    tenant = Tenant(name=name, time_zone=time_zone, created_at=clock.now())
    await repository.add(session, tenant)
    api_keys = {env: await _new_api_key(session, tenant, env, key_limit) for env in ENVIRONMENTS}
    partner_keys = {env: await _new_partner_key(session, tenant, env) for env in ENVIRONMENTS}
    return NewTenant(tenant, api_keys, partner_keys)


async def get_tenant(session: AsyncSession, ref: str) -> Tenant:
    tenant = await repository.by_name_or_id(session, ref)
    if tenant is None:
        raise NotFound(f"no tenant {ref!r}")
    return tenant


async def list_tenants(session: AsyncSession) -> list[Tenant]:
    return await repository.list_all(session)


async def keys_of(session: AsyncSession, tenant_id: uuid.UUID) -> list[ApiKey]:
    """The tenant's API keys, revoked ones included."""
    return await repository.keys_of(session, tenant_id)


async def find_tenant(session: AsyncSession, ref: str) -> Tenant | None:
    """The tenant of this name or id, if any."""
    return await repository.by_name_or_id(session, ref)


async def add_api_key(
    session: AsyncSession, ref: str, environment: str, key_limit: int
) -> tuple[Tenant, str]:
    tenant = await get_tenant(session, ref)
    return tenant, await _new_api_key(session, tenant, check_environment(environment), key_limit)


async def revoke_api_key(session: AsyncSession, ref: str, key_id: str) -> None:
    tenant = await get_tenant(session, ref)
    try:
        parsed = uuid.UUID(key_id)
    except ValueError as exc:
        raise NotFound(f"no active key {key_id!r} for tenant {tenant.name}") from exc
    if not await repository.revoke_key(session, tenant.id, parsed, clock.now()):
        raise NotFound(f"no active key {key_id!r} for tenant {tenant.name}")


async def rotate_partner_key(session: AsyncSession, ref: str, environment: str) -> str:
    """A new partner key replaces the old one at once (Intuit must be given the new one)."""
    tenant = await get_tenant(session, ref)
    check_environment(environment)
    await repository.revoke_partner_keys(session, tenant.id, environment, clock.now())
    return await _new_partner_key(session, tenant, environment)


async def authenticate(session: AsyncSession, header: str | None) -> Principal | None:
    key = decode_basic_api_key(header)
    if key is None:
        return None
    found = await repository.principal_for_key(session, digest(key))
    return Principal(*found) if found else None


async def partner_key(session: AsyncSession, key: str) -> PartnerKey | None:
    """The active partner key `key` (as sent in X-Partner-Key), if any."""
    return await repository.partner_key(session, digest(key))


async def partner_key_by_digest(session: AsyncSession, key_hash: str) -> PartnerKey | None:
    """The active partner key whose digest is `key_hash` (the IDX gate has digested it once)."""
    return await repository.partner_key(session, key_hash)
