"""HTTP for the SMB's Link pages: the landing page a linkUrl opens, the two steps (connect,
set up: location, credentials, revoke), and the tenant's branding (theme, logo).

Each page runs through the pages' edge (`kit/pages.py`): its form parsed first, then one
transaction. The client's API for the branding itself is `link/routes.py`.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from app import i18n, vault
from app.idx.service import mask
from app.kit import pages
from app.kit.errors import TooManyRequests
from app.kit.pages import SECURITY_HEADERS, PageCall, in_transaction, language_of
from app.kit.ratelimit import address, limits_of
from app.kit.services import Services
from app.link import service
from app.link.service import Visit
from app.logs import tenant_id
from app.pendings import views as pending_views

COOKIE = "bf_link"
# The landing page's CSRF cookie (double submit), before any session exists.
OPENER = "bf_link_open"
OPENER_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
STATIC = Path(__file__).resolve().parents[1] / "static"


def page(template: str, language: str, status: int = 200, **context: Any) -> HTMLResponse:
    return pages.render(template, language, status, **context)


def _cookie(response: Response, services: Services, name: str, token: str, path: str) -> None:
    """The session (COOKIE) or the landing page's CSRF cookie (OPENER). SameSite=Lax, not Strict:
    the first page is usually reached from another site (a webmail), and every state change is
    a POST that carries a CSRF token. Each lasts as long as what it opens."""
    minutes = services.settings.link_session_minutes
    if name == OPENER:
        minutes = services.settings.otp_ttl_minutes
    response.set_cookie(
        name,
        token,
        max_age=minutes * 60,
        path=path,
        httponly=True,
        samesite="lax",
        secure=services.settings.public_base_url.startswith("https://"),
    )


def _link(request: Request) -> tuple[str, str | None]:
    """The company and, for a linkUrl, the connection of the link being opened (a
    Company.redirect has no connection)."""
    return request.path_params["companyId"], request.path_params.get("connectionId")


async def landing(call: PageCall) -> Response:
    """A linkUrl or Company.redirect, opened with a plain GET: the OTP is checked, never spent
    (mail scanners and link previews fetch links). One button POSTs it back with a CSRF token
    bound to a cookie set here (double submit): pressing it spends the OTP."""
    request, services = call.request, call.services
    language = language_of(request)
    otp = request.query_params.get("otp", "")
    try:
        opening = await service.opening(call.session, *_link(request), otp)
    except service.LinkExpired:
        return page("link/expired.html", language, status=401)
    token = request.cookies.get(OPENER, "")
    if not OPENER_TOKEN.fullmatch(token):
        token = secrets.token_urlsafe(32)
    response = page(
        "link/open.html",
        language,
        client=opening.tenant.name,
        company=opening.company.name,
        has_logo=bool(opening.branding and opening.branding.logo),
        brand_query=f"?otp={quote(otp, safe='')}",
        lang_query=f"otp={quote(otp, safe='')}&",
        action=request.url.path,
        otp=otp,
        open_csrf=token,
        minutes=services.settings.link_session_minutes,
    )
    _cookie(response, services, OPENER, token, "/companies/")
    return response


async def begin(request: Request) -> Response:
    """The landing page's button: spend the OTP, open a session, go to step 1. A refused OTP
    is answered after its transaction rolled back."""
    services = pages.services_of(request)
    form = await request.form()
    language = str(form.get("lang", ""))
    if language not in i18n.LOCALES:
        language = language_of(request)
    cookie, sent = request.cookies.get(OPENER, ""), str(form.get("csrf", ""))
    if not cookie or not hmac.compare_digest(cookie.encode(), sent.encode()):
        return page("link/expired.html", language, status=403, forbidden=True)
    try:
        async with pages.transaction(request) as session:
            token = await service.start(
                session, services.settings, *_link(request), str(form.get("otp", "")), language
            )
    except service.LinkExpired:
        return page("link/expired.html", language, status=401)
    response = RedirectResponse("/link/connect", status_code=303, headers=SECURITY_HEADERS)
    _cookie(response, services, COOKIE, token, "/")
    response.delete_cookie(OPENER, path="/companies/")
    return response


def _after_post(request: Request) -> dict[str, str]:
    """An error page answering a POST: its language link goes to a page that answers a GET."""
    return {"lang_base": "/link/setup"} if request.method == "POST" else {}


async def _visit(call: PageCall) -> Visit | Response:
    """The visit of this session cookie, or the page that says it has ended."""
    visit = await service.visit(call.session, call.request.cookies.get(COOKIE))
    if visit is None:
        language = language_of(call.request)
        return page("link/expired.html", language, status=401, **_after_post(call.request))
    tenant_id.set(str(visit.tenant.id))  # on this request's log line
    return visit


def _common(visit: Visit, language: str, **extra: Any) -> dict[str, Any]:
    branding = visit.branding
    french = bool(branding and branding.callout_title_fr)
    return {
        "client": visit.tenant.name,
        "company": visit.company.name,
        "csrf": visit.record.csrf_token,
        "callout": service.callout(branding, language),
        # The English callout on a French page says so (lang="en"), for screen readers.
        "callout_lang": "en" if language == "fr" and not french else None,
        "has_logo": bool(branding and branding.logo),
        **extra,
    }


async def connect(call: PageCall) -> Response:
    visit = await _visit(call)
    if isinstance(visit, Response):
        return visit
    language = language_of(call.request, visit.record.language)
    return page("link/connect.html", language, **_common(visit, language, step=1))


async def _setup_page(call: PageCall, visit: Visit, language: str, **extra: Any) -> HTMLResponse:
    accounts = await service.accounts(call.session, visit)
    holds = await pending_views.holds_summary(call.session, [a.pk for a in accounts])
    rows = [
        {
            "name": a.account_name or a.account_id,
            "number": mask(vault.reveal(a.account_number)),
            "balance": a.balance,
            "currency": a.currency,
            "on_hold": holds[a.pk].total if a.pk in holds else None,
        }
        for a in accounts
    ]
    return page(
        "link/setup.html",
        language,
        **_common(
            visit,
            language,
            step=2,
            accounts=rows,
            location=visit.record.location_confirmed,
            **extra,
        ),
    )


async def setup(call: PageCall) -> Response:
    visit = await _visit(call)
    if isinstance(visit, Response):
        return visit
    return await _setup_page(call, visit, language_of(call.request, visit.record.language))


async def post_action(call: PageCall) -> Response:
    """Every form of the Link pages posts here: language, location, get and revoke credentials."""
    visit = await _visit(call)
    if isinstance(visit, Response):
        return visit
    record, settings = visit.record, call.services.settings
    form = {k: str(v) for k, v in (call.form or {}).items()}
    language = record.language
    if not hmac.compare_digest(form.get("csrf", "").encode(), record.csrf_token.encode()):
        return page(
            "link/expired.html", language, status=403, forbidden=True, lang_base="/link/setup"
        )
    action = call.request.path_params["action"]
    if action == "language" and form.get("lang") in i18n.LOCALES:
        record.language = form["lang"]
        back = form.get("back") if form.get("back") in ("connect", "setup") else "connect"
        return RedirectResponse(f"/link/{back}", status_code=303, headers=SECURITY_HEADERS)
    if action == "location":
        if form.get("location") not in ("us-ca", "other"):  # sent without a choice
            answer = await _setup_page(call, visit, language, location_error=True)
            answer.status_code = 400
            return answer
        record.location_confirmed = form.get("location") == "us-ca"
        if not record.location_confirmed:
            return page("link/not_eligible.html", language, **_common(visit, language, step=2))
        return RedirectResponse("/link/setup", status_code=303, headers=SECURITY_HEADERS)
    if action == "credentials":
        if not record.location_confirmed:
            return await _setup_page(call, visit, language)
        redis = call.services.redis
        issued = await service.get_credentials(call.session, settings, redis, visit)
        if issued is None:  # spent: the next presses are answered from Redis
            token = call.request.cookies.get(COOKIE, "")
            await service.remember_spent(redis, settings, token, visit)
            return _spent_page(call.services, language, visit.tenant.name)
        username, password = issued
        return page(
            "link/credentials.html",
            language,
            **_common(visit, language, step=2, username=username, password=password),
        )
    if action == "revoke":
        await service.revoke(call.session, visit)
        return page("link/revoked.html", language, **_common(visit, language, step=2))
    return page("link/expired.html", language, status=404, lang_base="/link/setup")


async def _branding(call: PageCall) -> Any:
    """The branding of this visit (session cookie) or of an unspent link's landing page (?otp=)."""
    otp = call.request.query_params.get("otp")
    if otp is not None:
        return await service.branding_for_otp(call.session, otp)
    visit = await service.visit(call.session, call.request.cookies.get(COOKIE))
    return visit.branding if visit else None


async def theme(call: PageCall) -> Response:
    """The tenant's accent colour as CSS (no inline styles: the CSP forbids them)."""
    branding = await _branding(call)
    color = branding.accent_color if branding else "#0b6e4f"
    css = f":root {{ --accent: {color}; --on-accent: {service.ink_on(color)}; }}\n"
    return Response(css, media_type="text/css", headers={"Cache-Control": "no-store"})


async def logo(call: PageCall) -> Response:
    branding = await _branding(call)
    if not branding or not branding.logo:
        return Response(status_code=404)
    return Response(
        branding.logo,
        media_type=branding.logo_type,
        headers={"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"},
    )


def _spent_key(request: Request) -> str | None:
    """A "Get credentials" press is read with the session's spent mark (one round trip)."""
    token = request.cookies.get(COOKIE)
    if request.path_params.get("action") != "credentials" or not token:
        return None
    return service.spent_key(pages.services_of(request).settings, token)


def _spent_page(services: Services, language: str, client: str) -> HTMLResponse:
    """The session's budget is spent: say what to do instead (429)."""
    limit = services.settings.link_credentials_per_session
    return page(
        "link/spent.html",
        language,
        status=429,
        client=client,
        credentials_spent=limit,
        lang_base="/link/setup",
    )


def spent_first(handler: pages.Endpoint) -> pages.Endpoint:
    """A press on a session whose budget the database already said is spent is answered from
    the mark `limited` read with the press's window: no database work (a refusal changes
    nothing, so it needs no CSRF check either). A change of language or location clears the
    mark once its transaction is over (what a spent answer shows may have changed)."""

    async def endpoint(request: Request) -> Response:
        services = pages.services_of(request)
        spent = service.spent_from(getattr(request.state, "peeked", None))
        if spent is not None:
            return _spent_page(services, spent.language, spent.client)
        answer = await handler(request)
        if request.path_params["action"] in ("language", "location"):
            token = request.cookies.get(COOKIE, "")
            await service.forget_spent(services.redis, services.settings, token)
        return answer

    return endpoint


def limited(
    handler: pages.Endpoint, peek: Callable[[Request], str | None] | None = None
) -> pages.Endpoint:
    """Pages and form posts count against the caller's address (theme, logo and static don't),
    before any database work. The Redis key `peek` names is read in the same round trip, for
    the handler (`request.state.peeked`)."""

    async def endpoint(request: Request) -> Response:
        services = pages.services_of(request)
        try:
            request.state.peeked = await limits_of(request).per_minute(
                "link",
                address(request),
                services.settings.link_requests_per_minute,
                peek=peek(request) if peek else None,
            )
        except TooManyRequests as exc:
            busy = page("link/busy.html", language_of(request), status=429, **_after_post(request))
            busy.headers.update(exc.headers)
            return busy
        return await handler(request)

    return endpoint


def _routes() -> list[Route | Mount]:
    start = "/companies/{companyId}/connections/{connectionId}/start"
    redirect = "/companies/{companyId}/link"
    return [
        Route(start, limited(in_transaction(landing)), methods=["GET"]),
        Route(start, limited(begin), methods=["POST"]),
        Route(redirect, limited(in_transaction(landing)), methods=["GET"]),
        Route(redirect, limited(begin), methods=["POST"]),
        Route("/link/connect", limited(in_transaction(connect)), methods=["GET"]),
        Route("/link/setup", limited(in_transaction(setup)), methods=["GET"]),
        Route("/link/theme.css", in_transaction(theme), methods=["GET"]),
        Route("/link/logo", in_transaction(logo), methods=["GET"]),
        Route(
            "/link/{action:str}",
            limited(spent_first(in_transaction(post_action)), _spent_key),
            methods=["POST"],
        ),
        Mount("/link/static", StaticFiles(directory=STATIC), name="link-static"),
    ]


link_routes = _routes()
