"""Declared operations: one place turns a handler into a Starlette route *and* its OpenAPI entry.

A handler states its body, query and response types once; the same pydantic types parse the
request, render the response and describe both in /openapi.json, so the document cannot drift
from what the routes do. Every handler runs inside one database transaction (commit at the edge).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.db import transaction
from app.errors import ApiError, BadRequest, Unauthorized, UnsupportedMediaType, validation_items
from app.errors import render as render_error
from app.idempotency import service as idempotency
from app.logs import tenant_id
from app.ratelimit import limits_of
from app.services import Services
from app.tenants.service import authenticate

log = logging.getLogger("app.api")
B = TypeVar("B")
Q = TypeVar("Q", bound=BaseModel)

JSON_TYPES = ("application/json", "text/json", "application/merge-patch+json")


@dataclass
class Result:
    """A handler's answer when the status is not the operation's first declared one."""

    value: Any
    status: int


@dataclass
class Call(Generic[B]):
    request: Request
    services: Services
    session: AsyncSession
    principal: Any  # tenants.Principal on the client API, idx.IdxPrincipal on the IDX API
    body: B
    query: Any

    def path(self, name: str) -> str:
        return str(self.request.path_params[name])


Handler = Callable[[Call[Any]], Awaitable[Any]]
# Finds who is calling (raising Unauthorized or the like) inside the request's transaction.
Authenticator = Callable[[Request, AsyncSession, Services], Awaitable[Any]]
AfterError = Callable[[async_sessionmaker[AsyncSession], ApiError], Awaitable[None]]


@dataclass
class Operation:
    method: str
    path: str
    handler: Handler
    operation_id: str
    summary: str
    tag: str
    body: Any = None
    query: type[BaseModel] | None = None
    responses: dict[int, Any] = field(default_factory=dict)
    errors: tuple[int, ...] = (400, 401, 404)
    description: str = ""
    security: str = "auth_header"
    # Reads the decoded JSON instead of `body` (which then only documents the shape).
    parser: Callable[[Any], Any] | None = None
    idempotent: bool = False
    # The body is bytes of these media types (not JSON); `body` is then only documentation.
    raw_types: tuple[str, ...] = ()
    # Runs after a failed request's transaction has rolled back (e.g. to note a rejected push).
    after_error: AfterError | None = None

    @cached_property
    def body_adapter(self) -> TypeAdapter[Any]:
        return TypeAdapter(self.body)

    @cached_property
    def response_adapters(self) -> dict[int, TypeAdapter[Any] | None]:
        return {s: TypeAdapter(t) if t is not None else None for s, t in self.responses.items()}

    @property
    def success_status(self) -> int:
        return min(self.responses)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


NUL_REFUSED = "NUL characters (\\u0000) are not accepted in any string."


def parse_json(raw: bytes) -> Any:
    """JSON with exact decimals (never floats) and a message that says where it broke."""
    try:
        data = json.loads(raw, parse_float=Decimal, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise BadRequest(
            f"Malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno} (char {exc.pos})"
        ) from exc
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"Malformed JSON: {exc}") from exc
    if b"\\u0000" in raw and _has_nul(data):
        raise BadRequest(NUL_REFUSED)
    return data


async def read_body(request: Request, op: Operation) -> Any:
    raw = await request.body()
    if op.raw_types:
        return raw
    if not raw.strip():
        raise BadRequest("A JSON request body is required.")
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if ctype not in JSON_TYPES:
        raise UnsupportedMediaType(f"Send the body as application/json, not {ctype}.")
    data = parse_json(raw)
    try:
        if op.parser is not None:
            return op.parser(data)
        # Never from attributes: a JSON number (a Decimal here) is not an object to read from,
        # though the shared wire models allow it for rows.
        return op.body_adapter.validate_python(data, from_attributes=False)
    except ValidationError as exc:
        raise BadRequest("The request body is not valid.", errors=validation_items(exc)) from exc


def refuse_nul(request: Request) -> None:
    """PostgreSQL text cannot hold NUL: refused in the path and query as in bodies (400)."""
    items = [request.scope.get("path", ""), *request.query_params.multi_items()]
    if any("\x00" in "".join(item) for item in items):
        raise BadRequest(NUL_REFUSED)


def parse_query(request: Request, model: type[Q]) -> Q:
    params: dict[str, str | list[str]] = {}
    for key in request.query_params:
        values = request.query_params.getlist(key)
        params[key] = values[-1]
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        raise BadRequest("The query string is not valid.", errors=validation_items(exc)) from exc


# Answers can carry a secret shown once (credentials, a webhook secret, a linkUrl's OTP): no
# cache between us and the client may keep one. Every JSON answer says so, so none is missed.
NO_STORE = {"Cache-Control": "no-store"}


def render(op: Operation, value: Any) -> Response:
    if isinstance(value, Response):
        return value
    status = op.success_status
    if isinstance(value, Result):
        status, value = value.status, value.value
    adapter = op.response_adapters.get(status)
    if adapter is None:
        return Response(status_code=status)
    return Response(
        adapter.dump_json(value, by_alias=True),
        status_code=status,
        media_type="application/json",
        headers=NO_STORE,
    )


class Api:
    """An operation table: every operation is authenticated the same way."""

    def __init__(self, authenticate: Authenticator, *, security: str, prefix: str = "") -> None:
        self.operations: list[Operation] = []
        self.authenticate = authenticate
        self.security = security
        self.prefix = prefix

    def operation(
        self,
        method: str,
        path: str,
        *,
        operation_id: str,
        summary: str,
        tag: str,
        responses: dict[int, Any],
        body: Any = None,
        query: type[BaseModel] | None = None,
        errors: tuple[int, ...] = (400, 401, 404),
        description: str = "",
        parser: Callable[[Any], Any] | None = None,
        idempotent: bool = False,
        raw_types: tuple[str, ...] = (),
        after_error: AfterError | None = None,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.operations.append(
                Operation(
                    method=method,
                    path=self.prefix + path,
                    handler=handler,
                    operation_id=operation_id,
                    summary=summary,
                    tag=tag,
                    body=body,
                    query=query,
                    responses=responses,
                    errors=errors,
                    description=description or (handler.__doc__ or "").strip(),
                    security=self.security,
                    parser=parser,
                    idempotent=idempotent,
                    raw_types=raw_types,
                    after_error=after_error,
                )
            )
            return handler

        return register

    def routes(self) -> list[Route]:
        by_path: dict[str, list[Operation]] = {}
        for op in self.operations:
            by_path.setdefault(op.path, []).append(op)
        # Literal segments before parameters, so /bankFeedAccounts/batch is never taken for an
        # {accountId}.
        ordered = sorted(
            by_path, key=lambda p: [("~" if s.startswith("{") else s) for s in p.split("/")]
        )
        return [
            Route(
                p, _endpoint(by_path[p], self.authenticate), methods=[o.method for o in by_path[p]]
            )
            for p in ordered
        ]


Finish = Callable[[AsyncSession, Any, Response], Awaitable[None]]


async def _run(
    request: Request,
    op: Operation,
    authenticate: Authenticator,
    services: Services,
    finish: Finish | None = None,
) -> Response:
    """Authenticate, parse, handle and render in one transaction (commit at the edge)."""
    try:
        async with transaction(services.sessions) as session:
            principal = await authenticate(request, session, services)
            tenant_id.set(str(principal.tenant_id))
            refuse_nul(request)
            query = parse_query(request, op.query) if op.query is not None else None
            body = await read_body(request, op) if op.body is not None else None
            call: Call[Any] = Call(request, services, session, principal, body, query)
            response = render(op, await op.handler(call))
            if finish is not None:
                await finish(session, principal, response)
    except ApiError as exc:
        if op.after_error is not None:
            try:
                await op.after_error(services.sessions, exc)
            except Exception as failed:  # the answer to the client stands either way
                log.warning("after-error hook failed: %s", type(failed).__name__)
        raise
    return response


async def _run_idempotent(
    request: Request, op: Operation, authenticate: Authenticator, services: Services, key: str
) -> Response:
    idempotency.check_key(key)
    async with transaction(services.sessions) as session:
        principal = await authenticate(request, session, services)
    tenant_id.set(str(principal.tenant_id))  # on every line, the 409 for a key in flight too
    raw = await request.body()
    print_ = idempotency.fingerprint(request.method, request.url.path, request.url.query, raw)
    stored = await idempotency.begin(
        services.sessions, principal, key, print_, services.settings.idempotency_ttl_hours
    )
    if stored is not None:
        return Response(
            stored.body,
            status_code=stored.status,
            media_type="application/json",
            headers={"Idempotent-Replayed": "true", **NO_STORE},
        )

    async def finish(session: AsyncSession, who: Any, response: Response) -> None:
        await idempotency.finish(session, who, key, response.status_code, bytes(response.body))

    try:
        return await _run(request, op, authenticate, services, finish)
    except ApiError as exc:
        if exc.status >= 500:
            await idempotency.release(services.sessions, principal, key)
            raise
        response = render_error(exc)
        await idempotency.finish_apart(
            services.sessions, principal, key, response.status_code, bytes(response.body)
        )
        return response
    except BaseException:
        try:
            await idempotency.release(services.sessions, principal, key)
        except Exception as cleanup:  # the store itself may be what failed
            log.warning("could not release an idempotency key: %s", type(cleanup).__name__)
        raise


def _endpoint(
    ops: list[Operation], authenticate: Authenticator
) -> Callable[[Request], Awaitable[Response]]:
    by_method = {op.method: op for op in ops}

    async def endpoint(request: Request) -> Response:
        op = by_method[request.method]
        services: Services = request.app.state.services
        key = request.headers.get("idempotency-key") if op.idempotent else None
        try:
            if key is not None:
                return await _run_idempotent(request, op, authenticate, services, key)
            return await _run(request, op, authenticate, services)
        finally:
            await limits_of(request).leave(request)

    return endpoint


async def client_principal(request: Request, session: AsyncSession, services: Services) -> Any:
    principal = await authenticate(session, request.headers.get("authorization"))
    if principal is None:
        raise Unauthorized(
            "Unauthorized: send Authorization: Basic base64(API_KEY) with an active key.",
            headers={"WWW-Authenticate": 'Basic realm="bankfeeds"'},
        )
    await limits_of(request).enter_tenant(request, principal.tenant_id, principal.environment)
    return principal


client_api = Api(client_principal, security="auth_header")
