"""What every portal page shares: its headers, rendering, redirects, and the signed-in guard.

Its own module so the page modules (sign-in, branding, status, feed health) import it without
importing each other.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from app import i18n
from app.db import transaction
from app.kit.errors import ApiError
from app.kit.services import Services
from app.link.routes import SECURITY_HEADERS as LINK_HEADERS
from app.logs import tenant_id
from app.portal import service
from app.portal.service import Staff
from app.tenants.tables import ENVIRONMENTS

COOKIE = "bf_portal"
SIGN_IN_CSRF = "bf_portal_csrf"
STATIC = Path(__file__).resolve().parents[1] / "static"
# The Link page's headers, but for a preview of a logo not yet uploaded (blob:) and a Referer
# kept within our own origin.
SECURITY_HEADERS = {
    **LINK_HEADERS,
    "Content-Security-Policy": LINK_HEADERS["Content-Security-Policy"].replace(
        "img-src 'self'", "img-src 'self' blob:"
    ),
    "Referrer-Policy": "same-origin",
}
DEFAULT_ACCENT = "#0b6e4f"

PageHandler = Callable[[Request, Services, AsyncSession, Staff], Awaitable[Response]]


def page(template: str, language: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = i18n.environment(language).get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def redirect(to: str) -> RedirectResponse:
    return RedirectResponse(to, status_code=303, headers=SECURITY_HEADERS)


def language_of(request: Request) -> str:
    asked = request.query_params.get("lang")
    if asked in i18n.LOCALES:
        return asked
    return i18n.negotiate(request.headers.get("accept-language"))


def secure_cookies(services: Services) -> bool:
    return services.settings.public_base_url.startswith("https://")


def common(who: Staff, request: Request, **extra: Any) -> dict[str, Any]:
    """What every signed-in page shows: who, for which client, where to come back to."""
    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return {
        "back_to": back if request.method == "GET" else "/portal/companies",
        "staff": who.user.email,
        "client": who.tenant.name,
        "environment": who.record.environment,
        "environments": ENVIRONMENTS,
        "csrf": who.record.csrf_token,
        "zone": who.tenant.time_zone,  # times on the page are the tenant's (UTC on hover)
        **extra,
    }


def not_found(who: Staff, request: Request, message: str) -> HTMLResponse:
    return page(
        "portal/not_found.html",
        who.record.language,
        404,
        **common(who, request, message=message),
    )


def signed_in(handler: PageHandler) -> Callable[[Request], Awaitable[Response]]:
    """Runs a page for a signed-in user in one transaction; others go to the sign-in form.
    A POST must carry the session's CSRF token. Unknown ids render the portal's 404 page."""

    async def endpoint(request: Request) -> Response:
        services: Services = request.app.state.services
        # The form (an upload too) is parsed before the transaction: nothing is held meanwhile.
        form = await request.form() if request.method == "POST" else None
        async with transaction(services.sessions) as session:
            who = await service.staff(session, request.cookies.get(COOKIE))
            if who is None:
                back = "/portal/companies"
                if request.method == "GET":
                    query = f"?{request.url.query}" if request.url.query else ""
                    back = request.url.path + query
                return redirect(f"/portal/sign-in?next={quote(back, safe='')}")
            tenant_id.set(str(who.tenant.id))  # on this request's log line
            if form is not None:
                token = str(form.get("csrf", ""))
                if not same_token(token, who.record.csrf_token):
                    return page(
                        "portal/forbidden.html", who.record.language, 403, **common(who, request)
                    )
            try:
                return await handler(request, services, session, who)
            except ApiError as exc:
                if exc.status != 404:
                    raise
                return not_found(who, request, exc.message)

    return endpoint


def same_token(given: str, expected: str) -> bool:
    """Constant-time comparison that also takes non-ASCII input (a forged token, not a 500)."""
    return hmac.compare_digest(given.encode(), expected.encode())
