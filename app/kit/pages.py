"""The edge of the server-rendered pages (the SMB's Link pages, the portal), as `kit/api.py` is
the JSON routes': their strict headers, rendering in the page's language, and one transaction.

A page's body is already in memory when it runs (`app/bodies.py` read it whole before the app
ran) and its form is parsed before its transaction opens, so no connection or lock waits on a
client. The page's work then runs in one transaction: committed when the handler returns,
rolled back when it raises. Services never commit; this is the pages' one place that does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from app import db, i18n
from app.kit.services import Services

# Scripts, styles and images from our own origin only; no framing; no Referer leaves the page.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}

Endpoint = Callable[[Request], Awaitable[Response]]


def render(
    template: str,
    language: str,
    status: int = 200,
    headers: dict[str, str] = SECURITY_HEADERS,
    **context: Any,
) -> HTMLResponse:
    """A template of the one Jinja environment, in `language`, with the pages' headers."""
    html = i18n.environment(language).get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers=headers)


def language_of(request: Request, fallback: str | None = None) -> str:
    """?lang= when it is one of ours, else the caller's `fallback` (a session's choice), else
    the browser's Accept-Language."""
    asked = request.query_params.get("lang")
    if asked in i18n.LOCALES:
        return asked
    return fallback or i18n.negotiate(request.headers.get("accept-language"))


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


@asynccontextmanager
async def transaction(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction of a page's work, for a page that needs more than one (the portal's
    sign-in checks the password between two) or that answers a refusal after the rollback."""
    async with db.transaction(services_of(request).sessions) as session:
        yield session


@dataclass(frozen=True, slots=True)
class PageCall:
    """What a page handler is given: the request, what the lifespan built, the transaction's
    session, and a POST's form (parsed before the transaction opened; None for a GET)."""

    request: Request
    services: Services
    session: AsyncSession
    form: FormData | None


def in_transaction(handler: Callable[[PageCall], Awaitable[Response]]) -> Endpoint:
    """The endpoint of a page: its form first, then the handler in one transaction."""

    async def endpoint(request: Request) -> Response:
        form = await request.form() if request.method == "POST" else None
        async with transaction(request) as session:
            return await handler(PageCall(request, services_of(request), session, form))

    return endpoint
