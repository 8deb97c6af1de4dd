"""HTTP for the Link pages (HTML for the SMB) and the client's Link branding API."""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from app import i18n, vault
from app.db import transaction
from app.errors import TooManyRequests
from app.idx.service import mask
from app.link import schemas, service
from app.logs import tenant_id
from app.pendings import views as pending_views
from app.ratelimit import address, limits_of
from app.services import Services
from app.tenants.auth import ClientCall, ClientOperations

COOKIE = "bf_link"
# The landing page's CSRF cookie (double submit), before any session exists.
OPENER = "bf_link_open"
OPENER_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
STATIC = Path(__file__).resolve().parents[1] / "static"
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
TAG = "Link settings"
OPERATIONS = ClientOperations()
Endpoint = Callable[[Request], Awaitable[Response]]


# ---- the client's branding API ------------------------------------------------------------


@OPERATIONS.operation(
    "GET",
    "/settings/link",
    operation_id="get-link-settings",
    summary="Get Link page settings (extension)",
    tag=TAG,
    responses={200: schemas.LinkSettingsOut},
    errors=(401,),
)
async def get_settings(call: ClientCall[None, None, None]) -> schemas.LinkSettingsOut:
    return service.to_wire(await service.current(call.session, call.principal))


@OPERATIONS.operation(
    "PUT",
    "/settings/link",
    operation_id="replace-link-settings",
    summary="Replace Link page settings (extension)",
    tag=TAG,
    body=schemas.LinkSettingsBody,
    responses={200: schemas.LinkSettingsOut},
    errors=(400, 401),
)
async def put_settings(
    call: ClientCall[None, None, schemas.LinkSettingsBody],
) -> schemas.LinkSettingsOut:
    """The callout shown on the Link page (English required, French optional and falling back
    to English; title ≤ 50 and body ≤ 150 characters of plain text) and the accent colour."""
    return service.to_wire(await service.replace(call.session, call.principal, call.body))


@OPERATIONS.operation(
    "PUT",
    "/settings/link/logo",
    operation_id="replace-link-logo",
    summary="Upload the Link page logo (extension)",
    tag=TAG,
    body=bytes,
    raw_types=("image/png", "image/jpeg"),
    responses={200: schemas.LinkSettingsOut},
    errors=(400, 401, 413, 415),
)
async def put_logo(call: ClientCall[None, None, bytes]) -> schemas.LinkSettingsOut:
    """A PNG or JPEG (checked by its bytes, not its name or header), at most 256 KiB by default;
    SVG and anything else answer 415."""
    row = await service.set_logo(call.session, call.services.settings, call.principal, call.body)
    return service.to_wire(row)


# ---- the SMB's pages ------------------------------------------------------------------------


def _language(request: Request, fallback: str | None = None) -> str:
    asked = request.query_params.get("lang")
    if asked in i18n.LOCALES:
        return asked
    return fallback or i18n.negotiate(request.headers.get("accept-language"))


def page(template: str, language: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = i18n.environment(language).get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


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


async def landing(request: Request) -> Response:
    """A linkUrl or Company.redirect, opened with a plain GET: the OTP is checked, never spent
    (mail scanners and link previews fetch links). One button POSTs it back with a CSRF token
    bound to a cookie set here (double submit): pressing it spends the OTP."""
    services: Services = request.app.state.services
    language = _language(request)
    otp = request.query_params.get("otp", "")
    async with services.sessions() as session:
        try:
            opening = await service.opening(session, *_link(request), otp)
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
    """The landing page's button: spend the OTP, open a session, go to step 1."""
    services: Services = request.app.state.services
    form = await request.form()
    language = str(form.get("lang", ""))
    if language not in i18n.LOCALES:
        language = _language(request)
    cookie, sent = request.cookies.get(OPENER, ""), str(form.get("csrf", ""))
    if not cookie or not hmac.compare_digest(cookie.encode(), sent.encode()):
        return page("link/expired.html", language, status=403, forbidden=True)
    try:
        async with transaction(services.sessions) as session:
            token = await service.start(
                session, services.settings, *_link(request), str(form.get("otp", "")), language
            )
    except service.LinkExpired:
        return page("link/expired.html", language, status=401)
    response = RedirectResponse("/link/connect", status_code=303, headers=SECURITY_HEADERS)
    _cookie(response, services, COOKIE, token, "/")
    response.delete_cookie(OPENER, path="/companies/")
    return response


async def _visit(request: Request) -> tuple[Services, Any, Any] | Response:
    services: Services = request.app.state.services
    session = services.sessions()
    visit = await service.visit(session, request.cookies.get(COOKIE))
    if visit is None:
        await session.close()
        return page("link/expired.html", _language(request), status=401, **_after_post(request))
    tenant_id.set(str(visit.tenant.id))  # on this request's log line
    return services, session, visit


async def _form(request: Request, visit: Any) -> dict[str, str] | None:
    form = await request.form()
    token = str(form.get("csrf", ""))
    if not hmac.compare_digest(token, visit.record.csrf_token):
        return None
    return {k: str(v) for k, v in form.items()}


def _after_post(request: Request) -> dict[str, str]:
    """An error page answering a POST: its language link goes to a page that answers a GET."""
    return {"lang_base": "/link/setup"} if request.method == "POST" else {}


def _common(visit: Any, language: str, **extra: Any) -> dict[str, Any]:
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


async def connect(request: Request) -> Response:
    found = await _visit(request)
    if isinstance(found, Response):
        return found
    _, session, visit = found
    async with session:
        language = _language(request, visit.record.language)
        return page("link/connect.html", language, **_common(visit, language, step=1))


async def _setup_page(session: Any, visit: Any, language: str, **extra: Any) -> HTMLResponse:
    accounts = await service.accounts(session, visit)
    holds = await pending_views.holds_summary(session, [a.pk for a in accounts])
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


async def setup(request: Request) -> Response:
    found = await _visit(request)
    if isinstance(found, Response):
        return found
    _, session, visit = found
    async with session:
        language = _language(request, visit.record.language)
        return await _setup_page(session, visit, language)


def _spent_key(request: Request) -> str | None:
    """A "Get credentials" press is read with the session's spent mark (one round trip)."""
    token = request.cookies.get(COOKIE)
    if request.path_params.get("action") != "credentials" or not token:
        return None
    return service.spent_key(request.app.state.services.settings, token)


async def post_action(request: Request) -> Response:
    """Every form of the Link pages posts here: language, location, get and revoke credentials.
    A press on a session whose budget the database already said is spent is answered from the
    mark `limited` read with the press's window: no database work (a refusal changes nothing,
    so it needs no CSRF check either)."""
    services: Services = request.app.state.services
    spent = service.spent_from(getattr(request.state, "peeked", None))
    if spent is not None:
        return _spent_page(services, spent.language, spent.client)
    found = await _visit(request)
    if isinstance(found, Response):
        return found
    services, session, visit = found
    await session.close()
    form = await _form(request, visit)
    language = visit.record.language
    if form is None:
        return page(
            "link/expired.html", language, status=403, forbidden=True, lang_base="/link/setup"
        )
    action = request.path_params["action"]
    token = request.cookies.get(COOKIE, "")
    answer = await _act(services, action, form, token, language)
    if action in ("language", "location"):  # what a spent answer shows may have changed
        await service.forget_spent(services.redis, services.settings, token)
    return answer


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


async def _act(
    services: Services,
    action: str,
    form: dict[str, str],
    token: str,
    language: str,
) -> Response:
    async with transaction(services.sessions) as session:
        visit = await service.visit(session, token)
        if visit is None:
            return page("link/expired.html", language, status=401, lang_base="/link/setup")
        record = visit.record
        if action == "language" and form.get("lang") in i18n.LOCALES:
            record.language = form["lang"]
            back = form.get("back") if form.get("back") in ("connect", "setup") else "connect"
            return RedirectResponse(f"/link/{back}", status_code=303, headers=SECURITY_HEADERS)
        language = record.language
        if action == "location":
            if form.get("location") not in ("us-ca", "other"):  # sent without a choice
                answer = await _setup_page(session, visit, language, location_error=True)
                answer.status_code = 400
                return answer
            record.location_confirmed = form.get("location") == "us-ca"
            if not record.location_confirmed:
                return page("link/not_eligible.html", language, **_common(visit, language, step=2))
            return RedirectResponse("/link/setup", status_code=303, headers=SECURITY_HEADERS)
        if action == "credentials":
            if not record.location_confirmed:
                return await _setup_page(session, visit, language)
            issued = await service.get_credentials(
                session, services.settings, services.redis, visit
            )
            if issued is None:  # spent: the next presses are answered from Redis
                await service.remember_spent(services.redis, services.settings, token, visit)
                return _spent_page(services, language, visit.tenant.name)
            username, password = issued
            return page(
                "link/credentials.html",
                language,
                **_common(visit, language, step=2, username=username, password=password),
            )
        if action == "revoke":
            await service.revoke(session, visit)
            return page("link/revoked.html", language, **_common(visit, language, step=2))
    return page("link/expired.html", language, status=404, lang_base="/link/setup")


async def _branding(request: Request) -> Any:
    """The branding of this visit (session cookie) or of an unspent link's landing page (?otp=)."""
    services: Services = request.app.state.services
    otp = request.query_params.get("otp")
    async with services.sessions() as session:
        if otp is not None:
            return await service.branding_for_otp(session, otp)
        visit = await service.visit(session, request.cookies.get(COOKIE))
        return visit.branding if visit else None


async def theme(request: Request) -> Response:
    """The tenant's accent colour as CSS (no inline styles: the CSP forbids them)."""
    branding = await _branding(request)
    color = branding.accent_color if branding else "#0b6e4f"
    css = f":root {{ --accent: {color}; --on-accent: {service.ink_on(color)}; }}\n"
    return Response(css, media_type="text/css", headers={"Cache-Control": "no-store"})


async def logo(request: Request) -> Response:
    branding = await _branding(request)
    if not branding or not branding.logo:
        return Response(status_code=404)
    return Response(
        branding.logo,
        media_type=branding.logo_type,
        headers={"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"},
    )


def limited(handler: Endpoint, peek: Callable[[Request], str | None] | None = None) -> Endpoint:
    """Pages and form posts count against the caller's address (theme, logo and static don't).
    The Redis key `peek` names is read in the same round trip, for the handler
    (`request.state.peeked`)."""

    async def endpoint(request: Request) -> Response:
        services: Services = request.app.state.services
        try:
            request.state.peeked = await limits_of(request).per_minute(
                "link",
                address(request),
                services.settings.link_requests_per_minute,
                peek=peek(request) if peek else None,
            )
        except TooManyRequests as exc:
            busy = page("link/busy.html", _language(request), status=429, **_after_post(request))
            busy.headers.update(exc.headers)
            return busy
        return await handler(request)

    return endpoint


link_routes = [
    Route(
        "/companies/{companyId}/connections/{connectionId}/start", limited(landing), methods=["GET"]
    ),
    Route(
        "/companies/{companyId}/connections/{connectionId}/start", limited(begin), methods=["POST"]
    ),
    Route("/companies/{companyId}/link", limited(landing), methods=["GET"]),
    Route("/companies/{companyId}/link", limited(begin), methods=["POST"]),
    Route("/link/connect", limited(connect), methods=["GET"]),
    Route("/link/setup", limited(setup), methods=["GET"]),
    Route("/link/theme.css", theme, methods=["GET"]),
    Route("/link/logo", logo, methods=["GET"]),
    Route("/link/{action:str}", limited(post_action, _spent_key), methods=["POST"]),
    Mount("/link/static", StaticFiles(directory=STATIC), name="link-static"),
]
