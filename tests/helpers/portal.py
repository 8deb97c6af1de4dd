"""A portal user and a signed-in browser-like client for the portal tests."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import transaction
from app.portal import service as portal
from tests.helpers.logs import remember_secret


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


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
