"""Who is calling the IDX API: QuickBooks, with a set of credentials and a tenant's partner key."""

from __future__ import annotations

import base64
import binascii
from typing import TypeAlias, TypeVar

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from app.credentials import service as credentials
from app.idx import throttle as throttles
from app.kit.api import Call, Operations
from app.kit.errors import Unauthorized
from app.kit.principal import IdxPrincipal
from app.kit.ratelimit import address as client_address
from app.kit.ratelimit import limits_of
from app.kit.services import Services
from app.tenants import service as tenants
from app.tenants.service import digest

A = TypeVar("A")
Q = TypeVar("Q", bound=BaseModel | None)
B = TypeVar("B")

# An IDX handler's argument: IdxCall[path model, query model, body].
IdxCall: TypeAlias = Call[IdxPrincipal, A, Q, B]
IdxOperations: TypeAlias = Operations[IdxPrincipal]

BAD_SIGN_IN = "Unauthorized: the username or password is not valid, has expired or was revoked."


def _b64(value: str) -> str | None:
    try:
        return base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def partner_key_from(header: str | None) -> str | None:
    key = _b64(header) if header else None
    if not key or any(c.isspace() for c in key):
        return None
    return key


def username_password_from(header: str | None) -> tuple[str, str] | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    pair = _b64(value)
    if pair is None or ":" not in pair or "\0" in pair:
        return None  # a NUL byte would reach the database (PostgreSQL refuses it: a 500)
    username, _, password = pair.partition(":")
    if not username or not password:
        return None
    return username, password


async def idx_gate(request: Request, services: Services) -> None:
    """Every limit first, in one Redis round trip keyed by the partner key's digest, before the
    request's session is even made: a refusal (429) takes no database connection and runs no
    query. The reserved check is left for `idx_principal`."""
    pair = username_password_from(request.headers.get("authorization"))
    key = partner_key_from(request.headers.get("x-partner-key"))
    if key and pair:
        key_hash = digest(key)
        window = limits_of(request).window("idx", f"{key_hash}:u:{pair[0]}")
        address = client_address(request)
        request.state.idx_attempt = await throttles.of(request).attempt(
            key_hash, pair[0], address, window
        )


async def idx_principal(
    request: Request, session: AsyncSession, services: Services
) -> IdxPrincipal:
    """After `idx_gate`: the partner key (nothing sent without a valid one is counted as a
    failure against anyone's limits), then the credentials."""
    address = client_address(request)
    limits = limits_of(request)
    per_minute = services.settings.idx_requests_per_minute
    pair = username_password_from(request.headers.get("authorization"))
    key = partner_key_from(request.headers.get("x-partner-key"))
    key_hash = digest(key) if key else None
    throttle = throttles.of(request)
    if key_hash and pair and getattr(request.state, "idx_attempt", None) is None:
        await idx_gate(request, services)  # called on its own (not through the API's gate)
    attempt: throttles.Attempt | None = getattr(request.state, "idx_attempt", None)
    request.state.idx_attempt = None  # taken: given back or counted below, once
    try:
        partner = await tenants.partner_key_by_digest(session, key_hash) if key_hash else None
    except BaseException:  # e.g. a full pool (503): the reservation is given back all the same
        if attempt is not None:
            await throttle.release(attempt)
        raise
    if partner is None:
        if attempt is not None:
            await throttle.release(attempt)
        await limits.per_minute("idx-anon", address, per_minute)
        raise Unauthorized("Unauthorized: X-Partner-Key must be base64 of an active partner key.")
    if pair is None or attempt is None:
        await limits.per_minute("idx", f"{key_hash}:a:{address}", per_minute)
        raise Unauthorized("Unauthorized: send Authorization: Basic base64(username:password).")
    identity = credentials.PartnerIdentity(partner.id, partner.tenant_id, partner.environment)
    try:
        credential = await credentials.authenticate(
            session, services.settings, identity, pair[0], pair[1], decoy=not attempt.address_over
        )
    except BaseException:
        await throttle.release(attempt)
        raise
    if credential is None:
        await throttle.failed(attempt)  # 429 instead of 401 once the address has too many
        raise Unauthorized(BAD_SIGN_IN)
    await throttle.succeeded(attempt)
    return IdxPrincipal(
        partner.tenant_id, partner.environment, credential.connection_id, credential.id
    )
