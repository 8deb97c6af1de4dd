"""Who is calling the client API: a tenant's API key, in one environment (beside `idx/auth.py`,
which finds QuickBooks on the IDX API)."""

from __future__ import annotations

from typing import TypeAlias, TypeVar

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from app.kit.api import Call, Operations
from app.kit.errors import Unauthorized
from app.kit.principal import Principal
from app.kit.ratelimit import limits_of
from app.kit.services import Services
from app.tenants.service import authenticate

A = TypeVar("A")
Q = TypeVar("Q", bound=BaseModel | None)
B = TypeVar("B")

# A client-API handler's argument: ClientCall[path model, query model, body].
ClientCall: TypeAlias = Call[Principal, A, Q, B]
ClientOperations: TypeAlias = Operations[Principal]


async def client_principal(
    request: Request, session: AsyncSession, services: Services
) -> Principal:
    principal = await authenticate(session, request.headers.get("authorization"))
    if principal is None:
        raise Unauthorized(
            "Unauthorized: send Authorization: Basic base64(API_KEY) with an active key.",
            headers={"WWW-Authenticate": 'Basic realm="bankfeeds"'},
        )
    await limits_of(request).enter_tenant(request, principal.tenant_id, principal.environment)
    return principal
