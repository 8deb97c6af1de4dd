"""HTTP for the client portal: sign-in, preferences, Link branding and webhooks.

Server-rendered, English and French, with the Link page's strict CSP (scripts and styles from
our own origin only). Every form carries a CSRF token: the session's once signed in, a
double-submit cookie on the sign-in form.
"""

from __future__ import annotations

import hmac
import math
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from babel.numbers import format_decimal
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from app import contrast, i18n
from app.db import transaction
from app.errors import ApiError, TooManyRequests
from app.link import schemas as link_schemas
from app.link import service as link
from app.link.routes import SECURITY_HEADERS as LINK_HEADERS
from app.logs import tenant_id
from app.portal import guard, service
from app.portal.service import Staff
from app.ratelimit import address, limits_of
from app.services import Services
from app.tenants.tables import ENVIRONMENTS
from app.webhooks import service as webhooks

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

PageHandler = Callable[[Request, Services, Any, Staff], Awaitable[Response]]


def page(template: str, language: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = i18n.environment(language).get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def redirect(to: str) -> RedirectResponse:
    return RedirectResponse(to, status_code=303, headers=SECURITY_HEADERS)


def _language(request: Request) -> str:
    asked = request.query_params.get("lang")
    if asked in i18n.LOCALES:
        return asked
    return i18n.negotiate(request.headers.get("accept-language"))


def _secure(services: Services) -> bool:
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
        async with transaction(services.sessions) as session:
            who = await service.staff(session, request.cookies.get(COOKIE))
            if who is None:
                back = "/portal/companies"
                if request.method == "GET":
                    query = f"?{request.url.query}" if request.url.query else ""
                    back = request.url.path + query
                return redirect(f"/portal/sign-in?next={quote(back, safe='')}")
            tenant_id.set(str(who.tenant.id))  # on this request's log line
            if request.method == "POST":
                form = await request.form()
                token = str(form.get("csrf", ""))
                if not _same(token, who.record.csrf_token):
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


# ---- sign-in ------------------------------------------------------------------------------


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison that also takes non-ASCII input (a forged token, not a 500)."""
    return hmac.compare_digest(given.encode(), expected.encode())


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
        secure=_secure(services),
    )
    return response


async def sign_in_form(request: Request) -> Response:
    return _sign_in_page(request, _language(request))


async def sign_in(request: Request) -> Response:
    services: Services = request.app.state.services
    form = await request.form()
    language = str(form.get("lang")) if form.get("lang") in i18n.LOCALES else _language(request)
    cookie = request.cookies.get(SIGN_IN_CSRF, "")
    if not cookie or not _same(str(form.get("csrf", "")), cookie):
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
        secure=_secure(services),
    )
    response.delete_cookie(SIGN_IN_CSRF, path="/portal")
    return response


async def _check_sign_in(
    request: Request, services: Services, email: str, password: str, language: str
) -> str | None:
    """Limits first, the argon2 check outside any transaction (and bounded), then the session.

    Raises guard.Locked or TooManyRequests; None for a wrong e-mail or password."""
    s = services.settings
    limits = limits_of(request)
    who = address(request)
    await limits.per_minute("portal-sign-in", who, s.portal_sign_ins_per_minute)
    await limits.per_minute("portal-sign-in-all", "*", s.portal_sign_ins_per_minute_global)
    stored_email = service.sign_in_email(email)
    if stored_email is None:
        return None
    check = guard.Guard(services.redis, s, who, stored_email)
    await check.check()
    async with transaction(services.sessions) as session:
        found = await service.password_hash(session, stored_email)
    async with guard.hashing(s):
        right = await service.password_matches(found, password)
    if not right or found is None:
        await check.failed()
        return None
    async with transaction(services.sessions) as session:
        opened = await service.open_session(session, s, found[0], language)
    if opened is None:
        return None
    await check.succeeded()
    return opened[0]


async def _sign_out(request: Request, services: Services, session: Any, who: Staff) -> Response:
    await service.sign_out(session, request.cookies.get(COOKIE, ""))
    response = redirect(f"/portal/sign-in?lang={who.record.language}")
    response.delete_cookie(COOKIE, path="/portal")
    return response


async def _preferences(request: Request, services: Services, session: Any, who: Staff) -> Response:
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


# ---- Link branding --------------------------------------------------------------------------


def _preview_texts() -> dict[str, dict[str, str]]:
    """The Link page's own words in each language, for the preview beside the form."""
    words = {
        "heading": "Set up QuickBooks bank feeds",
        "accounts": "Your accounts",
        "button": "Get credentials",
        "note": "A note from %(client)s",
    }
    return {lang: {k: i18n.gettext(lang, v) for k, v in words.items()} for lang in i18n.LOCALES}


def _branding_form(row: Any) -> dict[str, str]:
    wire = link.to_wire(row)
    en = wire.callout.en if wire.callout else None
    fr = wire.callout.fr if wire.callout else None
    return {
        "title_en": en.title if en else "",
        "body_en": en.body if en else "",
        "title_fr": fr.title if fr else "",
        "body_fr": fr.body if fr else "",
        "accent": wire.accentColor,
    }


def _(message: str) -> str:
    """Marks a message for pybabel extract; it is translated when shown."""
    return message


# What the editor says about a refused field, in the page's language (by field and problem).
PROBLEMS = {
    "too_long": _("%(field)s: at most %(limit)s characters."),
    "plain": _("%(field)s: plain text only, without control characters."),
    "required": _(
        "%(field)s: required; the English note needs a title and a text, also when only the "
        "French one is wanted."
    ),
    "required_fr": _("%(field)s: a French note needs both a title and a text (or neither)."),
    "colour": _("Accent colour: choose a colour in the #RRGGBB form, such as #0b6e4f."),
}
FIELD_LABELS = {
    "title_en": (_("Title of the English note"), 50),
    "body_en": (_("Text of the English note"), 150),
    "title_fr": (_("Title of the French note"), 50),
    "body_fr": (_("Text of the French note"), 150),
    "accent": (_("Accent colour"), 7),
}
LOGO_PROBLEMS = {
    "size": _("Logo: the file is larger than %(kib)s KiB."),
    "type": _("Logo: it must be a PNG or JPEG image; SVG and other types are refused."),
    "missing": _("Logo: choose an image file to upload."),
}


def _error_texts(codes: dict[str, str], language: str) -> dict[str, str]:
    gettext = i18n.translator(language)
    texts = {}
    for field, code in codes.items():
        label, limit = FIELD_LABELS[field]
        texts[field] = gettext(PROBLEMS[code]) % {"field": gettext(label), "limit": limit}
    return texts


def _contrast(accent: str, language: str) -> dict[str, Any]:
    """The button ink on the accent colour and the two contrast ratios the editor shows."""
    gettext = i18n.translator(language)
    color = accent if link_schemas.is_color(accent) else DEFAULT_ACCENT
    ink = link.ink_on(color)
    text, edge = contrast.ratio(color, ink), contrast.ratio(color, contrast.WHITE)
    number = i18n.format_locale(language, "USD")
    return {
        "ink": gettext("black") if ink == contrast.BLACK else gettext("white"),
        # Truncated, never rounded up: 4.499 must not read as 4.5 (portal.js does the same).
        "text": format_decimal(math.floor(text * 100) / 100, "0.0#", locale=number),
        "edge": format_decimal(math.floor(edge * 100) / 100, "0.0#", locale=number),
        "decimal": "," if language == "fr" else ".",
        "low_text": text < contrast.TEXT_MINIMUM,
        "light": edge < contrast.EDGE_MINIMUM,
    }


def _branding_page(
    who: Staff, request: Request, row: Any, form: dict[str, str], status: int = 200, **extra: Any
) -> HTMLResponse:
    language = who.record.language
    kib = extra.pop("logo_max_kib", 256)
    if extra.get("errors"):
        extra["errors"] = _error_texts(extra["errors"], language)
    if extra.get("logo_error"):
        problem = LOGO_PROBLEMS[extra["logo_error"]]
        extra["logo_error"] = i18n.translator(language)(problem) % {"kib": kib}
    return page(
        "portal/branding.html",
        language,
        status,
        **common(
            who,
            request,
            section="branding",
            back_to="/portal/branding",
            form=form,
            texts=_preview_texts(),
            has_logo=bool(row is not None and row.logo),
            logo_max_kib=kib,
            contrast=_contrast(form["accent"], language),
            **extra,
        ),
    )


FIELD_OF = {
    ("callout", "en", "title"): "title_en",
    ("callout", "en", "body"): "body_en",
    ("callout", "fr", "title"): "title_fr",
    ("callout", "fr", "body"): "body_fr",
    ("callout", "fr"): "title_fr",
    ("accentColor",): "accent",
}


def _problem(field: str, error: Any) -> str:
    """What the template says (in the page's language) about a field pydantic refused."""
    if field == "accent":
        return "colour"
    if error["type"] == "string_too_long":
        return "too_long"
    if error["type"] == "value_error" and "plain text" in error["msg"]:
        return "plain"
    return "required_fr" if field.endswith("_fr") else "required"


def _body(form: dict[str, str]) -> link_schemas.LinkSettingsBody:
    def callout(lang: str) -> dict[str, str] | None:
        title, body = form[f"title_{lang}"], form[f"body_{lang}"]
        return {"title": title, "body": body} if (title or body) else None

    en, fr = callout("en"), callout("fr")
    data: dict[str, Any] = {"accentColor": form["accent"]}
    if en or fr:
        data["callout"] = {"en": en or {"title": "", "body": ""}, "fr": fr}
    return link_schemas.LinkSettingsBody.model_validate(data)


async def _branding(request: Request, services: Services, session: Any, who: Staff) -> Response:
    row = await link.current(session, who.principal)
    kib = services.settings.logo_max_bytes // 1024
    if request.method == "GET":
        saved = request.query_params.get("saved") in ("1", "logo")
        return _branding_page(who, request, row, _branding_form(row), saved=saved, logo_max_kib=kib)
    raw = await request.form()
    form = {
        k: str(raw.get(k, "")).replace("\r\n", "\n").strip()
        for k in ("title_en", "body_en", "title_fr", "body_fr", "accent")
    }
    errors: dict[str, str] = {}
    try:
        body = _body(form)
    except ValidationError as exc:
        for error in exc.errors():
            field = FIELD_OF.get(tuple(str(p) for p in error["loc"][:3]), "accent")
            errors.setdefault(field, _problem(field, error))
        return _branding_page(who, request, row, form, 400, errors=errors, logo_max_kib=kib)
    if raw.get("action") == "preview":
        return _branding_page(who, request, row, form, previewing=True, logo_max_kib=kib)
    await link.replace(session, who.principal, body)
    return redirect("/portal/branding?saved=1")


async def _logo_upload(request: Request, services: Services, session: Any, who: Staff) -> Response:
    form = await request.form()
    upload = form.get("logo")
    content = await upload.read() if isinstance(upload, UploadFile) else b""
    try:
        await link.set_logo(session, services.settings, who.principal, content)
    except ApiError as exc:
        row = await link.current(session, who.principal)
        return _branding_page(
            who,
            request,
            row,
            _branding_form(row),
            exc.status,
            logo_error={413: "size", 415: "type"}.get(exc.status, "missing"),
            logo_max_kib=services.settings.logo_max_bytes // 1024,
        )
    return redirect("/portal/branding?saved=logo")


async def _logo(request: Request, services: Services, session: Any, who: Staff) -> Response:
    row = await link.current(session, who.principal)
    if row is None or not row.logo:
        return Response(status_code=404, headers=SECURITY_HEADERS)
    return Response(
        row.logo,
        media_type=row.logo_type,
        headers={"Cache-Control": "private, no-cache", "X-Content-Type-Options": "nosniff"},
    )


async def preview_css(request: Request) -> Response:
    """The preview's accent colour as a stylesheet (the CSP forbids inline styles)."""
    color = request.query_params.get("accent", DEFAULT_ACCENT)
    if not link_schemas.is_color(color):
        color = DEFAULT_ACCENT
    css = f".preview {{ --accent: {color}; --on-accent: {link.ink_on(color)}; }}\n"
    return Response(css, media_type="text/css", headers={"Cache-Control": "no-store"})


# ---- webhooks ---------------------------------------------------------------------------------


async def _webhooks(request: Request, services: Services, session: Any, who: Staff) -> Response:
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


async def _resend(request: Request, services: Services, session: Any, who: Staff) -> Response:
    await webhooks.resend(session, who.principal, request.path_params["deliveryId"])
    return redirect("/portal/webhooks?resent=1")


def _routes() -> list[Route | Mount]:
    from app.portal import feed_routes, status_routes  # after this module's names exist

    return [
        Route("/portal", home, methods=["GET"]),
        Route("/portal/sign-in", sign_in_form, methods=["GET"]),
        Route("/portal/sign-in", sign_in, methods=["POST"]),
        Route("/portal/sign-out", signed_in(_sign_out), methods=["POST"]),
        Route("/portal/preferences", signed_in(_preferences), methods=["POST"]),
        *status_routes.routes(signed_in),
        *feed_routes.routes(signed_in),
        Route("/portal/branding", signed_in(_branding), methods=["GET", "POST"]),
        Route("/portal/branding/logo", signed_in(_logo), methods=["GET"]),
        Route("/portal/branding/logo", signed_in(_logo_upload), methods=["POST"]),
        Route("/portal/branding/preview.css", preview_css, methods=["GET"]),
        Route("/portal/webhooks", signed_in(_webhooks), methods=["GET"]),
        Route(
            "/portal/webhooks/deliveries/{deliveryId}/resend",
            signed_in(_resend),
            methods=["POST"],
        ),
        Mount("/portal/static", StaticFiles(directory=STATIC), name="portal-static"),
    ]


portal_routes = _routes()
