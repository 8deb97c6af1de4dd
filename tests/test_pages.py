"""The pages' edge (app/kit/pages.py), which the Link pages and the portal run through: a page's
form is read before any connection is taken, its work is committed when it answers and rolled
back when it raises. On the real database, through a page of the test's own."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from app import clock
from app.kit.pages import PageCall, in_transaction
from app.kit.services import Services
from app.link.tables import LinkSettings
from app.main import RequestContext
from tests.helpers.builders import TenantKeys

Handler = Callable[[PageCall], Awaitable[Response]]


def _site(services: Services, handler: Handler) -> RequestContext:
    """A page of the test's own behind the production edge (the body read whole first)."""
    site = Starlette(routes=[Route("/page", in_transaction(handler), methods=["GET", "POST"])])
    site.state.services = services
    return RequestContext(site, max_body=65536, body_seconds=5)


def _writer(tenant: TenantKeys, fail: bool) -> Handler:
    async def handler(call: PageCall) -> Response:
        assert call.form is not None
        call.session.add(
            LinkSettings(
                tenant_id=uuid.UUID(tenant.id),
                environment="sandbox",
                accent_color=str(call.form["accent"]),
                updated_at=clock.now(),
            )
        )
        await call.session.flush()
        if fail:
            raise RuntimeError("the page failed after writing")
        return Response(status_code=204)

    return handler


async def _stored(sessions: async_sessionmaker[AsyncSession], tenant: TenantKeys) -> list[str]:
    async with sessions() as session:
        stmt = select(LinkSettings.accent_color).where(
            LinkSettings.tenant_id == uuid.UUID(tenant.id), LinkSettings.environment == "sandbox"
        )
        return list((await session.execute(stmt)).scalars())


async def test_a_page_that_answers_is_committed(
    services: Services, sessions: async_sessionmaker[AsyncSession], tenant: TenantKeys
) -> None:
    site = _site(services, _writer(tenant, fail=False))
    transport = httpx.ASGITransport(app=site)
    async with httpx.AsyncClient(transport=transport, base_url="http://pages.test") as c:
        answer = await c.post("/page", data={"accent": "#123456"})
    assert answer.status_code == 204
    assert await _stored(sessions, tenant) == ["#123456"]


async def test_a_page_that_raises_is_rolled_back(
    services: Services, sessions: async_sessionmaker[AsyncSession], tenant: TenantKeys
) -> None:
    site = _site(services, _writer(tenant, fail=True))
    transport = httpx.ASGITransport(app=site)
    async with httpx.AsyncClient(transport=transport, base_url="http://pages.test") as c:
        answer = await c.post("/page", data={"accent": "#654321"})
    assert answer.status_code == 500
    assert await _stored(sessions, tenant) == []


async def test_the_form_is_read_before_a_connection_is_taken(services: Services) -> None:
    """The client's body (in three parts here) is all read before the pool hands out a
    connection: a slow client holds nothing shared (issue 28)."""
    seen: list[str] = []

    def checkout(*_: Any) -> None:
        seen.append("connection")

    async def handler(call: PageCall) -> Response:
        await call.session.execute(select(1))
        assert call.form is not None and call.form["note"] == "abc"
        return Response(status_code=204)

    parts = [b"note=a", b"b", b"c"]

    async def receive() -> dict[str, Any]:
        seen.append("body")
        chunk = parts.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(parts)}

    status: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/page",
        "raw_path": b"/page",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/x-www-form-urlencoded")],
        "client": ("127.0.0.1", 1),
        "server": ("pages.test", 80),
    }
    engine = services.engine.sync_engine
    event.listen(engine, "checkout", checkout)
    try:
        await _site(services, handler)(scope, receive, send)
    finally:
        event.remove(engine, "checkout", checkout)
    assert status == [204]
    assert seen == ["body", "body", "body", "connection"]
