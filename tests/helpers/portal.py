"""A portal user, a signed-in browser-like client, and a portal app of its own seen from chosen
peer addresses, for the portal tests."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import transaction
from app.main import create_app
from app.portal import service as portal
from tests.helpers.clients import csrf_of
from tests.helpers.logs import remember_secret


@dataclass
class Staff:
    http: httpx.AsyncClient
    email: str
    password: str
    csrf: str = ""

    async def sign_in(self, password: str | None = None, **form: str) -> httpx.Response:
        page = await self.http.get("/portal/sign-in")
        data = {
            "csrf": csrf_of(page.text),
            "email": self.email,
            "password": password or self.password,
            **form,
        }
        r = await self.http.post("/portal/sign-in", data=data)
        if r.status_code == 303:
            self.csrf = csrf_of((await self.http.get("/portal/companies")).text)
        return r

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.http.get(path, params=params or None)

    async def post(
        self, path: str, data: dict[str, Any] | None = None, **kw: Any
    ) -> httpx.Response:
        return await self.http.post(path, data={"csrf": self.csrf, **(data or {})}, **kw)


async def add_user(sessions: async_sessionmaker[AsyncSession], tenant_name: str) -> tuple[str, str]:
    email = f"support-{secrets.token_hex(4)}@example.test"
    password = secrets.token_urlsafe(16)
    async with transaction(sessions) as session:
        await portal.add_user(session, tenant_name, email, password)
    remember_secret(password)
    return email, password


@asynccontextmanager
async def portal_app(
    settings: Settings, *peers: str, **update: Any
) -> AsyncIterator[tuple[Any, list[httpx.AsyncClient]]]:
    """An app of its own (its own Redis prefix, `update` applied) and one portal client per
    peer address, for the per-address limits."""
    own = settings.model_copy(
        update={"redis_prefix": f"{settings.redis_prefix}pa{secrets.token_hex(3)}:", **update}
    )
    application = create_app(own)
    async with application.router.lifespan_context(application):
        clients = [
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=application, client=(peer, 4000)),
                base_url="http://portal.test",
            )
            for peer in peers
        ]
        try:
            yield application, clients
        finally:
            for c in clients:
                await c.aclose()
