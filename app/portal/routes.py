"""HTTP for the client portal: sign-in, preferences, Link branding and webhooks.

Server-rendered, English and French, with the Link page's strict CSP (scripts and styles from
our own origin only). Every form carries a CSRF token: the session's once signed in, a
double-submit cookie on the sign-in form.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from app import i18n
from app.db import transaction
from app.kit.errors import TooManyRequests
from app.kit.ratelimit import address, limits_of
from app.kit.services import Services
from app.portal import (
    branding_routes,
    certificate_routes,
    feed_routes,
    guard,
    privacy_routes,
    service,
    status_routes,
)
from app.portal.pages import (
    COOKIE,
    SIGN_IN_CSRF,
    STATIC,
    common,
    language_of,
    page,
    redirect,
    same_token,
    secure_cookies,
    signed_in,
)
from app.portal.service import Staff
from app.webhooks import service as webhooks


def _next(value: str | None) -> str:
    """Only our own portal paths are followed after sign-in (no open redirect)."""
    if value and value.startswith("/portal/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/portal/companies"


def _sign_in_page(request: Request, language: str, status: int = 200, **extra: Any) -> HTMLResponse:
    token = request.cookies.get(SIGN_IN_CSRF) or secrets.token_urlsafe(32)
    response = page(
        "portal/sign_in.html",
        language,
        status,
        csrf=token,
        next=_next(request.query_params.get("next")),
        **extra,
    )
    services: Services = request.app.state.services
    response.set_cookie(
        SIGN_IN_CSRF,
        token,
        httponly=True,
        samesite="strict",
        path="/portal",
        secure=secure_cookies(services),
    )
    return response


async def sign_in_form(request: Request) -> Response:
    return _sign_in_page(request, language_of(request))


async def sign_in(request: Request) -> Response:
    services: Services = request.app.state.services
    form = await request.form()
    language = str(form.get("lang")) if form.get("lang") in i18n.LOCALES else language_of(request)
    cookie = request.cookies.get(SIGN_IN_CSRF, "")
    if not cookie or not same_token(str(form.get("csrf", "")), cookie):
        return _sign_in_page(request, language, 403, error="csrf")
    email, password = str(form.get("email", "")), str(form.get("password", ""))
    failed = _sign_in_page(
        request,
        language,
        401,
        error="failed",
        email=email.replace("\0", ""),
        attempts=services.settings.portal_max_failures,
        minutes=services.settings.portal_lockout_minutes,
    )
    try:
        token = await _check_sign_in(request, services, email, password, language)
    except guard.Locked:
        return failed  # one answer for every failure, locked or not: no hint of who has an account
    except TooManyRequests as exc:
        busy = _sign_in_page(request, language, 429, error="busy", email=email.replace("\0", ""))
        busy.headers.update(exc.headers)
        return busy
    if token is None:
        return failed
    response = redirect(_next(str(form.get("next", ""))))
    response.set_cookie(
        COOKIE,
        token,
        max_age=services.settings.portal_session_hours * 3600,
        path="/portal",
        httponly=True,
        samesite="strict",
        secure=secure_cookies(services),
    )
    response.delete_cookie(SIGN_IN_CSRF, path="/portal")
    return response


# Addresses whose sign-in is on the hashing pool's first lane now (this process).
_going_first: set[str] = set()


async def _check_sign_in(
    request: Request, services: Services, email: str, password: str, language: str
) -> str | None:
    """Limits first, the argon2 check outside any transaction (and bounded), then the session.

    Raises guard.Locked or TooManyRequests; None for a wrong e-mail or password."""
    s = services.settings
    limits = limits_of(request)
    who = address(request)
    await limits.per_minute("portal-sign-in", who, s.portal_sign_ins_per_minute)
    stored_email = service.sign_in_email(email)
    if stored_email is None:
        return None
    check = guard.Guard(services.redis, s, who, stored_email)
    # An address with no recent failure goes first on the hashing pool, one sign-in at a time.
    clean = await check.check() and who not in _going_first
    async with transaction(services.sessions) as session:
        found = await service.password_hash(session, stored_email)
    if clean:
        _going_first.add(who)
    try:
        right = await service.password_matches(found, password, first=clean)
    finally:
        if clean:
            _going_first.discard(who)
    if not right or found is None:
        await check.failed()
        return None
    async with transaction(services.sessions) as session:
        opened = await service.open_session(session, s, found[0], language)
    if opened is None:
        return None
    await check.succeeded()
    return opened[0]


async def _sign_out(
    request: Request, services: Services, session: AsyncSession, who: Staff
) -> Response:
    await service.sign_out(session, request.cookies.get(COOKIE, ""))
    response = redirect(f"/portal/sign-in?lang={who.record.language}")
    response.delete_cookie(COOKIE, path="/portal")
    return response


async def _preferences(
    request: Request, services: Services, session: AsyncSession, who: Staff
) -> Response:
    """The language and the environment (production or sandbox) the user looks at."""
    form = await request.form()
    if form.get("lang") in i18n.LOCALES:
        who.record.language = str(form["lang"])
    if form.get("environment"):
        service.set_environment(who, str(form["environment"]))
    back = str(form.get("back", ""))
    return redirect(
        back if back.startswith("/portal/") and "//" not in back else "/portal/companies"
    )


async def home(request: Request) -> Response:
    return redirect("/portal/companies")


# ---- webhooks ---------------------------------------------------------------------------------


async def _webhooks(
    request: Request, services: Services, session: AsyncSession, who: Staff
) -> Response:
    endpoints, deliveries = await webhooks.recent(session, who.principal, 50)
    urls = {e.id: e.url for e in endpoints}
    return page(
        "portal/webhooks.html",
        who.record.language,
        **common(
            who,
            request,
            section="webhooks",
            endpoints=endpoints,
            paused={e.id for e in endpoints if webhooks.paused(e)},
            deliveries=[(d, kind, urls.get(d.endpoint_id, "")) for d, kind in deliveries],
            resent=request.query_params.get("resent") == "1",
        ),
    )


async def _resend(
    request: Request, services: Services, session: AsyncSession, who: Staff
) -> Response:
    await webhooks.resend(session, who.principal, request.path_params["deliveryId"])
    return redirect("/portal/webhooks?resent=1")


def _routes() -> list[Route | Mount]:
    return [
        Route("/portal", home, methods=["GET"]),
        Route("/portal/sign-in", sign_in_form, methods=["GET"]),
        Route("/portal/sign-in", sign_in, methods=["POST"]),
        Route("/portal/sign-out", signed_in(_sign_out), methods=["POST"]),
        Route("/portal/preferences", signed_in(_preferences), methods=["POST"]),
        *status_routes.routes(signed_in),
        *feed_routes.routes(signed_in),
        *privacy_routes.routes(signed_in),
        *certificate_routes.routes(signed_in),
        *branding_routes.routes(),
        Route("/portal/webhooks", signed_in(_webhooks), methods=["GET"]),
        Route(
            "/portal/webhooks/deliveries/{deliveryId}/resend",
            signed_in(_resend),
            methods=["POST"],
        ),
        Mount("/portal/static", StaticFiles(directory=STATIC), name="portal-static"),
    ]


portal_routes = _routes()
