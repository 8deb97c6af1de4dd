"""Declared operations: one place turns a handler into a Starlette route *and* its OpenAPI entry.

A handler states its path, query, body and response types once; the same types parse the
request, render the response and describe both in /openapi.json, so the document cannot drift
from what the routes do. Every handler runs inside one database transaction (commit at the edge).

Each domain's routes module lists its operations in an `Operations` table of its own; the edge
(`main.py`) assembles the tables into an `Api` with the authenticator that finds who is calling.
This module knows no domain: the client API's authenticator is `tenants/auth.py`'s, the IDX
API's `idx/auth.py`'s.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Generic, TypeAlias, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.db import transaction
from app.kit.errors import ApiError, BadRequest, UnsupportedMediaType, validation_items
from app.kit.errors import render as render_error
from app.kit.idempotency import service as idempotency
from app.kit.inputs import (
    JSON_TYPES,
    field_name,
    parse_json,
    parse_path,
    parse_query,
    path_names,
    refuse_nul,
)
from app.kit.principal import Caller
from app.kit.ratelimit import limits_of
from app.kit.schemas import INCLUDE_HEADER, asked_to_include, included
from app.kit.services import Services
from app.logs import tenant_id

log = logging.getLogger("app.kit.api")
P = TypeVar("P", bound=Caller)  # who calls: a client's Principal, QuickBooks' IdxPrincipal
A = TypeVar("A")  # the path parameters: a frozen dataclass of str fields, or None
Q = TypeVar("Q", bound=BaseModel | None)  # the query: a pydantic model, or None
B = TypeVar("B")  # the parsed body, or None


@dataclass
class Result:
    """A handler's answer when the status is not the operation's first declared one."""

    value: Any
    status: int


@dataclass(frozen=True, slots=True)
class Encoded:
    """A handler's answer already encoded as JSON (a hot path that encodes faster than the
    response type's adapter would), sent with the operation's first declared status. The
    response type still documents it."""

    body: bytes


@dataclass
class Call(Generic[P, A, Q, B]):
    """What a handler gets: who calls, the path parameters, the query and the body, each of the
    type its operation declares."""

    request: Request
    services: Services
    session: AsyncSession
    principal: P
    path: A
    query: Q
    body: B


# A handler of one operation; the table stores them without their parameter types.
Handler: TypeAlias = Callable[[Call[P, A, Q, B]], Awaitable[object]]
AnyHandler: TypeAlias = Callable[[Call[Any, Any, Any, Any]], Awaitable[object]]
# Finds who is calling (raising Unauthorized or the like) inside the request's transaction.
Authenticator: TypeAlias = Callable[[Request, AsyncSession, Services], Awaitable[P]]
AfterError = Callable[[async_sessionmaker[AsyncSession], ApiError], Awaitable[None]]
Prepare = Callable[[Request, Services], Awaitable[None]]
# Runs first, before any session or transaction is made: refuses (raising ApiError) what needs
# no database to refuse, e.g. the IDX limits in one Redis round trip (app/idx/auth.py).
Gate = Callable[[Request, Services], Awaitable[None]]


def _check_params(path: str, params: type[object] | None) -> None:
    """A path's parameters and its model's fields are the same names, or the table refuses it
    (at import, so a typo never reaches a request)."""
    wanted = {field_name(n) for n in path_names(path)}
    if params is None:
        have: set[str] = set()
    elif dataclasses.is_dataclass(params):
        have = {f.name for f in dataclasses.fields(params)}
    else:
        raise TypeError(f"{path}: path parameters are declared with a dataclass, not {params}")
    if have != wanted:
        raise TypeError(
            f"{path}: path parameters {sorted(wanted)} but the model has {sorted(have)}"
        )


def _query_model(query: type[object] | None) -> type[BaseModel] | None:
    if query is None or issubclass(query, BaseModel):
        return query
    raise TypeError(f"a query is declared with a pydantic model, not {query}")


@dataclass
class Operation:
    method: str
    path: str
    handler: AnyHandler
    operation_id: str
    summary: str
    tag: str
    body: Any = None
    params: type[object] | None = None
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
    # Slow work that needs no database (a webhook URL's DNS look-up): run once the caller is
    # authenticated, before the request's transaction, so no connection or lock waits on it.
    prepare: Prepare | None = None

    @cached_property
    def body_adapter(self) -> TypeAdapter[Any]:
        return TypeAdapter(self.body)

    @cached_property
    def response_adapters(self) -> dict[int, TypeAdapter[Any] | None]:
        return {s: TypeAdapter(t) if t is not None else None for s, t in self.responses.items()}

    @property
    def success_status(self) -> int:
        return min(self.responses)


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


# Answers can carry a secret shown once (credentials, a webhook secret, a linkUrl's OTP): no
# cache between us and the client may keep one. Every JSON answer says so, so none is missed.
NO_STORE = {"Cache-Control": "no-store"}


def render(op: Operation, value: Any) -> Response:
    if isinstance(value, Response):
        return value
    status = op.success_status
    if isinstance(value, Result):
        status, value = value.status, value.value
    if isinstance(value, Encoded):
        return Response(
            value.body, status_code=status, media_type="application/json", headers=NO_STORE
        )
    adapter = op.response_adapters.get(status)
    if adapter is None:
        return Response(status_code=status)
    return Response(
        adapter.dump_json(value, by_alias=True),
        status_code=status,
        media_type="application/json",
        headers=NO_STORE,
    )


class Operations(Generic[P]):
    """One domain's table of operations, in the order declared; `main.py` lists the tables."""

    def __init__(self) -> None:
        self.declared: list[Operation] = []

    def __iter__(self) -> Iterator[Operation]:
        return iter(self.declared)

    def operation(
        self,
        method: str,
        path: str,
        *,
        operation_id: str,
        summary: str,
        tag: str,
        responses: dict[int, Any],
        params: type[A] | None = None,
        query: type[Q] | None = None,
        body: Any = None,
        errors: tuple[int, ...] = (400, 401, 404),
        description: str = "",
        parser: Callable[[Any], B] | None = None,
        idempotent: bool = False,
        raw_types: tuple[str, ...] = (),
        after_error: AfterError | None = None,
        prepare: Prepare | None = None,
    ) -> Callable[[Handler[P, A, Q, B]], Handler[P, A, Q, B]]:
        """Declares an operation; `params` and `query` are the types the handler's `Call` carries
        (mypy holds the handler to them)."""
        _check_params(path, params)
        model = _query_model(query)

        def register(handler: Handler[P, A, Q, B]) -> Handler[P, A, Q, B]:
            self.declared.append(
                Operation(
                    method=method,
                    path=path,
                    handler=handler,
                    operation_id=operation_id,
                    summary=summary,
                    tag=tag,
                    body=body,
                    params=params,
                    query=model,
                    responses=responses,
                    errors=errors,
                    description=description or (handler.__doc__ or "").strip(),
                    parser=parser,
                    idempotent=idempotent,
                    raw_types=raw_types,
                    after_error=after_error,
                    prepare=prepare,
                )
            )
            return handler

        return register


class Api(Generic[P]):
    """The operation tables of one API, every operation authenticated the same way."""

    def __init__(
        self,
        authenticate: Authenticator[P],
        tables: list[Operations[P]],
        *,
        security: str,
        prefix: str = "",
        gate: Gate | None = None,
    ) -> None:
        self.authenticate = authenticate
        self.gate = gate
        self.security = security
        self.prefix = prefix
        self.operations: list[Operation] = [
            dataclasses.replace(op, path=prefix + op.path, security=security)
            for table in tables
            for op in table
        ]

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
                p,
                _endpoint(by_path[p], self.authenticate, self.gate),
                methods=[o.method for o in by_path[p]],
            )
            for p in ordered
        ]


Finish = Callable[[AsyncSession, Caller, Response], Awaitable[None]]


async def _run(
    request: Request,
    op: Operation,
    authenticate: Authenticator[Caller],
    services: Services,
    finish: Finish | None = None,
) -> Response:
    """Authenticate, parse, handle and render in one transaction (commit at the edge).
    The body is in memory before the transaction begins (the edge read it, `app.bodies`)."""
    if op.body is not None:
        await request.body()
    if op.prepare is not None:  # authenticated first, in a short transaction of its own
        async with transaction(services.sessions) as session:
            await authenticate(request, session, services)
        await op.prepare(request, services)
    try:
        async with transaction(services.sessions) as session:
            principal = await authenticate(request, session, services)
            tenant_id.set(str(principal.tenant_id))
            refuse_nul(request)
            path = parse_path(request, op.params) if op.params is not None else None
            query = parse_query(request, op.query) if op.query is not None else None
            body = await read_body(request, op) if op.body is not None else None
            call = Call(request, services, session, principal, path, query, body)
            asked = included.set(asked_to_include(request.headers.get(INCLUDE_HEADER)))
            try:
                response = render(op, await op.handler(call))
            finally:
                included.reset(asked)
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
    request: Request,
    op: Operation,
    authenticate: Authenticator[Caller],
    services: Services,
    key: str,
) -> Response:
    idempotency.check_key(key)
    raw = await request.body()  # before any connection is taken (`app.bodies`)
    print_ = idempotency.fingerprint(request.method, request.url.path, request.url.query, raw)
    # Who calls, and the key claimed for them, in one short transaction committed before the
    # work begins (so a concurrent retry sees the claim).
    async with transaction(services.sessions) as session:
        principal = await authenticate(request, session, services)
        tenant_id.set(str(principal.tenant_id))  # on every line, the 409 for a key in flight too
        stored = await idempotency.claim(
            session, principal, key, print_, services.settings.idempotency_ttl_hours
        )
    if stored is not None:
        return Response(
            stored.body,
            status_code=stored.status,
            media_type="application/json",
            headers={"Idempotent-Replayed": "true", **NO_STORE},
        )

    async def finish(session: AsyncSession, who: Caller, response: Response) -> None:
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
    ops: list[Operation], authenticate: Authenticator[Caller], gate: Gate | None
) -> Callable[[Request], Awaitable[Response]]:
    by_method = {op.method: op for op in ops}

    async def endpoint(request: Request) -> Response:
        op = by_method[request.method]
        services: Services = request.app.state.services
        key = request.headers.get("idempotency-key") if op.idempotent else None
        try:
            if gate is not None:
                await gate(request, services)
            if key is not None:
                return await _run_idempotent(request, op, authenticate, services, key)
            return await _run(request, op, authenticate, services)
        finally:
            await limits_of(request).leave(request)

    return endpoint
