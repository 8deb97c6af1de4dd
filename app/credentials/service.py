"""One-time credentials: shown once, argon2-hashed, claimed by their first successful use.

A set that Intuit has not used expires after `credentials_ttl_hours`; the first successful IDX
sign-in claims it (for its connection and partner key) and moves the connection to Linked.
Generating a set through the API leaves older ones valid; the Link page's "Get credentials"
replaces its session's previous unused set, a few times per session at most; revoking revokes
every set of the connection.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import string
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from passlib.context import CryptContext
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from app import clock, hashing
from app.config import Settings
from app.connections import service as connections
from app.connections.tables import Connection
from app.credentials import repository
from app.credentials.tables import Credential
from app.kit.principal import Principal

log = logging.getLogger("app.credentials")

# argon2id at OWASP's recommended floor: ~20 ms a check, 19 MiB.
HASHER = CryptContext(
    schemes=["argon2"],
    argon2__type="ID",
    argon2__memory_cost=19456,
    argon2__time_cost=2,
    argon2__parallelism=1,
)
# People copy these by eye into QuickBooks: no look-alikes (O/0/o, I/1/l), no punctuation.
LOOK_ALIKES = "O0oIl1"
_ALPHABET = "".join(c for c in string.ascii_uppercase + string.digits if c not in LOOK_ALIKES)
_PASSWORD_ALPHABET = "".join(
    c for c in string.ascii_letters + string.digits if c not in LOOK_ALIKES
)


def new_username() -> str:
    """Like SKMW-TR3P-7DS9: 32^12 (2^60) possibilities."""
    return "-".join("".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(3))


def new_password() -> str:
    """24 characters of 56 (about 139 random bits)."""
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(24))


@dataclass(frozen=True)
class PartnerIdentity:
    partner_key_id: uuid.UUID
    tenant_id: uuid.UUID
    environment: str


class VerifiedCache:
    """Skips argon2 for a set verified within the last few seconds.

    Holds a keyed digest (HMAC under a per-process random key) of the password and its hash,
    never the password; a changed or wrong password simply misses the cache.
    """

    def __init__(self, size: int = 10_000) -> None:
        self._key = secrets.token_bytes(32)
        self._size = size
        self._entries: OrderedDict[uuid.UUID, tuple[bytes, datetime]] = OrderedDict()

    def _digest(self, password: str, password_hash: str) -> bytes:
        message = password.encode() + b"\0" + password_hash.encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def hit(self, credential: Credential, password: str) -> bool:
        entry = self._entries.get(credential.id)
        if entry is None or entry[1] <= clock.now():
            return False
        return hmac.compare_digest(entry[0], self._digest(password, credential.password_hash))

    def remember(self, credential: Credential, password: str, seconds: int) -> None:
        if seconds <= 0:
            return
        self._entries[credential.id] = (
            self._digest(password, credential.password_hash),
            clock.now() + timedelta(seconds=seconds),
        )
        self._entries.move_to_end(credential.id)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)


verified = VerifiedCache()


async def generate(
    session: AsyncSession,
    settings: Settings,
    redis: Redis,
    principal: Principal,
    company_id: str,
    connection_id: str,
) -> tuple[str, str]:
    """A new set for the connection: (username, password), the password never stored."""
    connection = await connections.get(session, principal, company_id, connection_id)
    _, username, password = await issue(session, settings, redis, connection)
    return username, password


def name_mark(settings: Settings, username: str) -> str:
    """The Redis key that says this service issued `username` (hashed, never in the clear): the
    IDX throttle looks no unmarked username up from an address past its limit (app/idx/throttle)."""
    hashed = hashlib.sha256(f"name:{username}".encode()).hexdigest()[:32]
    return f"{settings.redis_prefix}idx:name:{hashed}"


async def _mark(settings: Settings, redis: Redis, username: str) -> None:
    """Mark a new set's username for as long as it can be claimed (a sign-in renews it)."""
    try:
        await redis.set(name_mark(settings, username), 1, ex=settings.credentials_ttl_hours * 3600)
    except (RedisError, OSError) as exc:  # still usable: unmarked names are looked up, budgeted
        log.warning("could not mark a new set of credentials (%s)", type(exc).__name__)


async def issue(
    session: AsyncSession, settings: Settings, redis: Redis, connection: Connection
) -> tuple[uuid.UUID, str, str]:
    """A new set for the connection: (its id, username, password)."""
    password = new_password()
    password_hash = await hashing.run(HASHER.hash, password)
    now = clock.now()
    username = new_username()
    await _mark(settings, redis, username)
    credential = Credential(
        connection_id=connection.id,
        username=username,
        password_hash=password_hash,
        created_at=now,
        expires_at=now + timedelta(hours=settings.credentials_ttl_hours),
    )
    await repository.add(session, credential)
    return credential.id, username, password


async def revoke_unclaimed(session: AsyncSession, credential_id: uuid.UUID) -> bool:
    """Revokes a set nobody has used yet (one replaced by a newer set); True if it was."""
    return await repository.revoke_unclaimed(session, credential_id, clock.now()) > 0


async def revoke(
    session: AsyncSession, principal: Principal, company_id: str, connection_id: str
) -> int:
    connection = await connections.get(session, principal, company_id, connection_id)
    return await repository.revoke_all(session, connection.id, clock.now())


async def _password_matches(credential: Credential, password: str, settings: Settings) -> bool:
    if verified.hit(credential, password):
        return True
    ok = await hashing.run(HASHER.verify, password, credential.password_hash)
    if ok:
        verified.remember(credential, password, settings.idx_verify_cache_seconds)
    return bool(ok)


async def authenticate(
    session: AsyncSession,
    settings: Settings,
    partner: PartnerIdentity,
    username: str,
    password: str,
    decoy: bool = True,
) -> Credential | None:
    """The usable set for these values, claimed on first use; None for any failure, alike.
    An unknown username costs a decoy check (same time as a real one) unless `decoy` is off."""
    found = await repository.by_username(session, username)
    if found is None:
        if decoy:
            await hashing.run(HASHER.dummy_verify)
        return None
    credential, tenant_id, environment = found
    if not await _password_matches(credential, password, settings):
        return None
    if (tenant_id, environment) != (partner.tenant_id, partner.environment):
        return None
    now = clock.now()
    if credential.claimed_at is None:
        locked = await repository.lock(session, credential.id, exclusive=True)
        if locked is None or locked.revoked_at is not None:
            return None
        if locked.claimed_at is None:
            if locked.expires_at <= now:
                return None
            await repository.claim(session, locked.id, now, partner.partner_key_id)
            await connections.mark_linked(session, settings, locked.connection_id)
        return locked
    locked = await repository.lock(session, credential.id, exclusive=False)
    if locked is None or locked.revoked_at is not None:
        return None
    return locked


# What the cross-domain cascades (app/lifecycle/) ask of the credentials.


async def revoke_all(session: AsyncSession, connection_id: uuid.UUID, at: datetime) -> int:
    """Every set of the connection, revoked at `at` (QuickBooks' next call gets 401)."""
    return await repository.revoke_all(session, connection_id, at)


async def purge_unusable(session: AsyncSession, expired_before: datetime) -> int:
    """Unclaimed sets past their lifetime, and revoked sets, are of no further use."""
    return await repository.purge_unusable(session, expired_before)
