"""Locales, negotiation, gettext and Babel formats for the Link pages.

English and French catalogs live in `locales/` (Babel: `babel.cfg`, `messages.pot`,
`locales/{en,fr}/LC_MESSAGES/messages.po`); missing `.mo` files are compiled at start-up.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time, get_datetime_format
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency
from babel.support import Translations
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from markupsafe import Markup

LOCALES = ("en", "fr")
DEFAULT = "en"


def _root() -> Path:
    """The directory holding templates/ and locales/: the source tree, else the working one."""
    source = Path(__file__).resolve().parents[1]
    return source if (source / "templates").is_dir() else Path.cwd()


ROOT = _root()
LOCALES_DIR = ROOT / "locales"
TEMPLATES_DIR = ROOT / "templates"


def compile_catalogs(directory: Path = LOCALES_DIR, *, force: bool = False) -> list[Path]:
    """Write messages.mo next to each messages.po that lacks one (or all, with force)."""
    written = []
    for po_path in sorted(directory.glob("*/LC_MESSAGES/messages.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and not force and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po:
            catalog = read_po(po, locale=po_path.parts[-3])
        with mo_path.open("wb") as mo:
            write_mo(mo, catalog)
        written.append(mo_path)
    return written


def negotiate(accept_language: str | None) -> str:
    """The first of our locales the browser asks for (Accept-Language), else English."""
    if not accept_language:
        return DEFAULT
    wanted = []
    for part in accept_language.split(","):
        tag, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            weight = 0.0
        if tag:
            wanted.append((weight, tag.strip().replace("-", "_")))
    ranked = [tag for _, tag in sorted(wanted, key=lambda w: -w[0])]
    try:
        found = Locale.negotiate(ranked, list(LOCALES), sep="_")
    except (UnknownLocaleError, ValueError):
        found = None
    return str(found.language) if found else DEFAULT


def format_locale(language: str, currency: str) -> str:
    """Formats: fr_CA for French; en_CA for Canadian dollars in English, else en_US."""
    if language == "fr":
        return "fr_CA"
    return "en_CA" if currency == "CAD" else "en_US"


def money(amount: Decimal | None, currency: str, language: str) -> str:
    """An amount with its currency named in both languages: US$1,234.56 and CA$1,234.56 in
    English (CLDR's symbols from the other country's locale), 1 234,56 $ US and 1 234,56 $ CA in
    French (the Office québécois de la langue française's notation), non-breaking throughout."""
    value = amount or 0
    if language == "fr":
        text = format_currency(value, currency, locale="fr_CA")
        return text + "\u00a0CA" if currency == "CAD" else text
    return format_currency(value, currency, locale="en_US" if currency == "CAD" else "en_CA")


def date_range(first: date, last: date, language: str) -> str:
    """Two dates in words, as a sentence says them: "from December 1 to 6, 2026", « du 1er au
    6 décembre 2026 » (the month and year written once when they are shared)."""
    if language != "fr":
        if first == last:
            return "on " + format_date(first, "MMMM d, y", locale="en_US")
        if (first.year, first.month) == (last.year, last.month):
            return f"from {format_date(first, 'MMMM d', locale='en_US')} to {last.day}, {last.year}"
        head = "MMMM d" if first.year == last.year else "MMMM d, y"
        return (
            f"from {format_date(first, head, locale='en_US')} to "
            f"{format_date(last, 'MMMM d, y', locale='en_US')}"
        )

    def day(value: date) -> str:
        return "1er" if value.day == 1 else str(value.day)

    def month(value: date) -> str:
        return str(format_date(value, "MMMM", locale="fr_CA"))

    tail = f"{day(last)}\u00a0{month(last)} {last.year}"
    if first == last:
        return f"le {tail}"
    if (first.year, first.month) == (last.year, last.month):
        return f"du {day(first)} au {tail}"
    if first.year == last.year:
        return f"du {day(first)}\u00a0{month(first)} au {tail}"
    return f"du {day(first)}\u00a0{month(first)} {first.year} au {tail}"


def long_date(value: date, language: str) -> str:
    return format_date(value, format="long", locale=format_locale(language, "USD"))


# North American zones' abbreviations in Canadian French (heure normale / avancée de l'Est...),
# as the Government of Canada and the OQLF write them; others keep their own.
FRENCH_ZONES = {
    "EST": "HNE", "EDT": "HAE", "CST": "HNC", "CDT": "HAC", "MST": "HNR", "MDT": "HAR",
    "PST": "HNP", "PDT": "HAP", "AST": "HNA", "ADT": "HAA", "NST": "HNT", "NDT": "HAT",
    "AKST": "HNAK", "AKDT": "HAAK", "HST": "HNH",
}  # fmt: skip


def zone_label(local: datetime, language: str) -> str:
    """The zone's abbreviation at that moment, in the page's language (EST, « HNE »)."""
    label = local.tzname() or ""
    return FRENCH_ZONES.get(label, label) if language == "fr" else label


def when(value: datetime | None, language: str, zone: str | None = None) -> str:
    """A moment to the minute (no seconds), in the language's medium date and short time, in
    `zone` (named by its abbreviation: EST, in French HNE) or else in UTC; a dash when there is
    none."""
    if value is None:
        return "—"
    locale = format_locale(language, "USD")
    tz = ZoneInfo(zone) if zone else UTC
    local = value.astimezone(tz)
    day = format_date(local, format="medium", locale=locale)
    hour = format_time(local, format="short", tzinfo=tz, locale=locale)
    label = "UTC" if tz is UTC else (zone_label(local, language) or zone or "")
    return str(get_datetime_format("medium", locale=locale)).format(
        _nbsp(hour) + "\u00a0" + label, _nbsp(day)
    )


def moment(value: datetime | None, language: str, zone: str | None) -> Markup | str:
    """`when` in the tenant's zone inside a <time> element, the same moment in UTC on hover."""
    if value is None:
        return "—"
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        value.astimezone(UTC).isoformat(), when(value, language), when(value, language, zone)
    )


def _nbsp(text: str) -> str:
    """Keeps "18 h 58" and "Nov 29" on one line (CLDR writes some of them with plain spaces)."""
    return text.replace(" ", "\u00a0")


@cache
def translator(language: str) -> Callable[[str], str]:
    """gettext for `language`, for texts built in Python (app/portal/messages.py)."""
    compile_catalogs()
    translations = Translations.load(str(LOCALES_DIR), [language], domain="messages")
    return translations.gettext


@cache
def environment(language: str) -> Environment:
    """One Jinja environment per language, its translations installed (autoescape on)."""
    compile_catalogs()
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
    )
    env.policies["ext.i18n.trimmed"] = True
    translations = Translations.load(str(LOCALES_DIR), [language], domain="messages")
    env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
    # French puts a non-breaking space before a colon (OQLF); templates write {{ colon }}.
    env.globals.update(language=language, colon="\u00a0:" if language == "fr" else ":")
    env.filters["money"] = lambda amount, currency: money(amount, currency, language)
    env.filters["long_date"] = lambda value: long_date(value, language)
    env.filters["date_range"] = lambda pair: date_range(pair[0], pair[1], language)
    # Times in the tenant's zone when the page knows it (`zone` in the context), else UTC.
    env.filters["when"] = pass_context(lambda ctx, value: when(value, language, ctx.get("zone")))
    env.filters["moment"] = pass_context(
        lambda ctx, value: moment(value, language, ctx.get("zone"))
    )
    return env


def gettext(language: str, message: str) -> str:
    """A Python-side string in `language` (for the few texts not in templates)."""
    translations = Translations.load(str(LOCALES_DIR), [language], domain="messages")
    return str(translations.gettext(message))
