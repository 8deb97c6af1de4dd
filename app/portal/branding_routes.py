"""The portal's Link branding pages: the form, the logo, and the live preview's stylesheet."""

from __future__ import annotations

import math
from typing import Any

from babel.numbers import format_decimal
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from app import contrast, i18n
from app.kit.errors import ApiError
from app.kit.services import Services
from app.link import schemas as link_schemas
from app.link import service as link
from app.portal.pages import DEFAULT_ACCENT, SECURITY_HEADERS, common, page, redirect, signed_in
from app.portal.service import Staff


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
    "shape": _(
        "Logo: at most 5 times wider than tall and 2 times taller than wide, so that it stays "
        "recognisable beside your name."
    ),
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


async def _branding(
    request: Request, services: Services, session: AsyncSession, who: Staff
) -> Response:
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


async def _logo_upload(
    request: Request, services: Services, session: AsyncSession, who: Staff
) -> Response:
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
            logo_error={413: "size", 415: "type"}.get(exc.status)
            or ("shape" if content else "missing"),
            logo_max_kib=services.settings.logo_max_bytes // 1024,
        )
    return redirect("/portal/branding?saved=logo")


async def _logo(
    request: Request, services: Services, session: AsyncSession, who: Staff
) -> Response:
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


def routes() -> list[Route]:
    return [
        Route("/portal/branding", signed_in(_branding), methods=["GET", "POST"]),
        Route("/portal/branding/logo", signed_in(_logo), methods=["GET"]),
        Route("/portal/branding/logo", signed_in(_logo_upload), methods=["POST"]),
        Route("/portal/branding/preview.css", preview_css, methods=["GET"]),
    ]
