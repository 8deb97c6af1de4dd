"""create_app(): routes mounted; the lifespan builds the engine and the Redis client once."""

from __future__ import annotations

import gc
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import bodies, hashing, lifecycle, metrics, openapi, ops, vault
from app.accounts import routes as accounts
from app.certificates import routes as certificates
from app.companies import routes as companies
from app.config import Settings, get_settings
from app.connections import routes as connections
from app.credentials import routes as credentials
from app.db import OUTAGE_CLASSES, make_engine, make_sessionmaker
from app.exports import routes as exports
from app.feeds import routes as feeds
from app.idx import routes as idx
from app.idx.auth import idx_gate, idx_principal
from app.kit import ratelimit
from app.kit.api import Api
from app.kit.errors import (
    ApiError,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
    handle_api_error,
    handle_unexpected,
    render,
    where,
)
from app.kit.principal import IdxPrincipal, Principal
from app.kit.services import Services
from app.link import pages as link_pages
from app.link import routes as link
from app.logs import correlation_id, setup_logging, tenant_id
from app.pendings import routes as pendings
from app.portal.routes import portal_routes
from app.retention import routes as retention
from app.tenants.auth import client_principal
from app.transactions import routes as transactions
from app.webhooks import routes as webhooks

log = logging.getLogger("app.request")
VERSION = "0.1.0"

# The two APIs, each domain's operations listed here (and nowhere else), in the order of
# /openapi.json.
client_api: Api[Principal] = Api(
    client_principal,
    [
        accounts.OPERATIONS,
        companies.OPERATIONS,
        connections.OPERATIONS,
        credentials.OPERATIONS,
        feeds.OPERATIONS,
        certificates.OPERATIONS,
        transactions.OPERATIONS,
        pendings.OPERATIONS,
        webhooks.OPERATIONS,
        retention.OPERATIONS,
        exports.OPERATIONS,
        link.OPERATIONS,
    ],
    security="auth_header",
)
idx_api: Api[IdxPrincipal] = Api(
    idx_principal, [idx.OPERATIONS], security="idx", prefix=idx.PREFIX, gate=idx_gate
)


class RequestContext:
    """Pure ASGI middleware: correlation id, the whole body read and bounded before the app runs
    (`app.bodies`: nothing shared is held while a client drips), one log line per request."""

    def __init__(self, app: ASGIApp, max_body: int, body_seconds: float) -> None:
        self.app = app
        self.max_body = max_body
        self.body_seconds = body_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cid = uuid.uuid4().hex
        correlation_id.set(cid)
        tenant_id.set(None)
        ratelimit.answer_headers.set({})
        started = time.perf_counter()
        status = 500
        started_response = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                status = message["status"]
                started_response = True
                spent = (time.perf_counter() - started) * 1000
                message.setdefault("headers", []).extend(
                    [
                        (b"x-correlation-id", cid.encode()),
                        (b"server-timing", f"app;dur={spent:.1f}".encode()),
                        *ratelimit.header_list(),
                    ]
                )
            await send(message)

        try:
            try:
                body = await self._body(scope, receive)
            except ApiError as refused:  # 408 or 413: refused before the app ran
                log.info("request body refused: %s %s", refused.status, refused.message)
                response = bodies.answer(Request(scope), refused)
                await response(scope, receive, send_with_id)
                return
            await self.app(scope, bodies.replay(body, receive), send_with_id)
        except (bodies.ClientGone, ClientDisconnect):
            status = 499  # nginx's "client closed request": on the log line, never sent
            log.info("client went away before the answer")
        except Exception as exc:
            # Answered here, not by Starlette's ServerErrorMiddleware, which would re-raise and
            # have the server print a traceback: tracebacks can carry SQL and secrets.
            response = await handle_unexpected(Request(scope), exc)
            if not started_response:
                await response(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            metrics.observe_request(
                template, scope["method"], status, time.perf_counter() - started
            )
            if log.isEnabledFor(logging.INFO):  # its fields cost a Request and its headers
                log.info(
                    "%s %s %s",
                    scope["method"],
                    scope["path"],
                    status,
                    extra={
                        "fields": {
                            "method": scope["method"],
                            "path": scope["path"],
                            "status": status,
                            "ms": round((time.perf_counter() - started) * 1000, 2),
                            "address": ratelimit.address(Request(scope)),
                        }
                    },
                )

    async def _body(self, scope: Scope, receive: Receive) -> bytes:
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body:
            raise bodies.too_large(self.max_body)
        return await bodies.read_whole(receive, self.max_body, self.body_seconds)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return render(NotFound(f"No route for {request.method} {request.url.path}"))
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        return render(
            MethodNotAllowed(
                f"{request.method} is not allowed on {request.url.path}; allowed: {allowed}",
                headers={"Allow": allowed} if allowed else None,
            )
        )
    error = ApiError(str(exc.detail))
    error.status = exc.status_code
    error.can_be_retried = "False"
    return render(error)


async def handle_unavailable(request: Request, exc: Exception) -> Response:
    logging.getLogger("app.kit.errors").error(
        "dependency unavailable: %s at %s", type(exc).__name__, where(exc)
    )
    return render(ServiceUnavailable())


async def handle_database_error(request: Request, exc: Exception) -> Response:
    """A server shutting down surfaces as a plain DBAPIError (57P01...), not OperationalError."""
    assert isinstance(exc, DBAPIError)
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if exc.connection_invalidated or (isinstance(code, str) and code[:2] in OUTAGE_CLASSES):
        return await handle_unavailable(request, exc)
    return await handle_unexpected(request, exc)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()
    setup_logging(settings.log_level)
    lifecycle.install()  # the cascades answer the domains' signals
    document: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if not settings.redis_url:
            raise RuntimeError(
                "REDIS_URL is not set: run `bankfeeds dev` for an embedded Redis, or set REDIS_URL"
            )
        engine = make_engine(settings)
        vault.configure(settings)  # the keys that seal webhook secrets at rest
        # This app's hashing pool; the one before it comes back when the app stops (an app with
        # limits of its own inside another's life, as in the tests, leaves the other's intact).
        restore = hashing.configure(
            settings.hash_concurrency, settings.hash_queue, settings.hash_wait_seconds
        )
        redis = Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=2)
        app.state.services = Services(settings, engine, make_sessionmaker(engine), redis)
        app.state.limits = ratelimit.RateLimits(redis, settings)
        # Everything built at start-up lives as long as the process: take it out of the
        # collector's view, so a full collection scans only what requests create (60-90 ms
        # pauses on a 1000-item push before, a few ms after).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await app.state.limits.give_back()  # the last requests' in-flight slots
            await redis.aclose()
            await engine.dispose()
            restore()

    async def openapi_json(request: Request) -> Response:
        if not document:
            document.update(
                openapi.build([client_api, idx_api], title="Bank Feeds Connector", version=VERSION)
            )
        return JSONResponse(document)

    routes = [
        Route("/", ops.home, methods=["GET"]),
        Route("/healthz", ops.healthz, methods=["GET"]),
        Route("/readyz", ops.readyz, methods=["GET"]),
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/metrics", ops.metrics, methods=["GET"]),
        *client_api.routes(),
        *idx_api.routes(),
        *link_pages.link_routes,
        *portal_routes,
    ]
    unavailable = (OperationalError, InterfaceError, ConnectionError, OSError, RedisError)
    handlers: dict[Any, Any] = {
        ApiError: handle_api_error,
        HTTPException: handle_http_exception,
        DBAPIError: handle_database_error,
        PoolTimeout: bodies.handle_pool_timeout,
        **{exc: handle_unavailable for exc in unavailable},
    }
    application = Starlette(routes=routes, lifespan=lifespan, exception_handlers=handlers)
    application.add_middleware(
        RequestContext,
        max_body=settings.max_body_bytes,
        body_seconds=settings.body_timeout_seconds,
    )
    return application
