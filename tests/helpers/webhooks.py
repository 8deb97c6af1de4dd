"""Webhooks from the client's side: an endpoint subscribed, a delivery pass run with chosen limits,
an app of its own with other settings, and the URLs the default policy must refuse."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.main import create_app
from app.webhooks import egress
from app.webhooks.delivery import Limits, deliver_due
from tests.helpers.clients import Api
from tests.helpers.logs import remember_secret

# Webhook URLs the default policy must refuse (loopback, metadata, private, IPv6 and hex forms).
MUST_REFUSE = [
    "http://127.0.0.1/",
    "http://169.254.169.254/",
    "http://10.0.0.1/",
    "http://[::1]/",
    "http://0x7f000001/",
    "http://localhost/",
]


@asynccontextmanager
async def app_with(settings: Settings, **changes: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An app of its own on the suite's database, with some settings changed."""
    application = create_app(settings.model_copy(update=changes))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
            yield http


async def subscribe(api: Api, url: str) -> tuple[str, str]:
    """An endpoint for `url` on `api`'s tenant: its id and signing secret (remembered)."""
    r = await api.call("POST", "/webhooks/endpoints", {"url": url})
    assert r.status_code == 201, r.text
    remember_secret(r.json()["secret"])
    return r.json()["id"], r.json()["secret"]


def limits(settings: Settings, **changes: Any) -> Limits:
    """The delivery limits of `settings` with some changed."""
    return Limits.of(settings.model_copy(update=changes))


async def deliver(
    sessions: async_sessionmaker[AsyncSession], lim: Limits
) -> tuple[dict[str, int], float]:
    """One delivery pass over what is due, with its own egress client: counts and seconds."""
    http = egress.client()
    started = time.monotonic()
    try:
        counts = await deliver_due(sessions, http, lim)
    finally:
        await http.aclose()
    return counts, time.monotonic() - started
