"""Issue 20 over HTTP and in the pure modules: the French catalog's typography and terms, push
validation notes in the page's language, ink contrast, money and time formats, credentials
without look-alikes, error summaries, and the paths that used to lose the user."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from babel.messages.pofile import read_po
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import contrast, i18n
from app.credentials.service import LOOK_ALIKES, new_password, new_username
from app.portal import messages
from app.transactions import rules
from tests.helpers.builders import TenantKeys
from tests.helpers.clients import Api, Linkable, csrf_of
from tests.helpers.feeds import connect, day, tx
from tests.helpers.link import link_url, open_link
from tests.helpers.portal import Staff, add_user

ROOT = Path(__file__).resolve().parents[1]
NB, NNB = "\u00a0", "\u202f"
# French strings that may equal their English msgid: the same word in both languages, or a name.
SAME_IN_FRENCH = {"Date", "Description", "Production", "URL", "Logo", "Validation", "Actions"}
SAME_IN_FRENCH |= {"Sections"}
# French words spelled as in English: a page of pulls, the dates of a re-serve.
SAME_IN_FRENCH |= {"Page", "Dates"}
# One term per concept (docs/FRENCH.md): these must not come back.
NOT_OUR_TERMS = [
    "Page de connexion",  # the Link page is « page de liaison »
    "Se connecter",  # reads as signing in; signing in is « ouvrir une session »
    "Se déconnecter",
    "QuickBooks Online",  # Intuit's French name is QuickBooks en ligne
    "Associer",  # QuickBooks' button is « Lier le compte »
    "transaction",  # a bank transaction is an « opération »
    "Opération d'envoi",  # a push is a « transmission »; « envoi » is the daily send only
    "Envois",
    "livres",  # calque of "books"
    "écrite comme",
    "Désautoris",
    "Statut",  # a state is an « état » (issue 33)
    "périmé",  # a feed QuickBooks stopped pulling is « en retard »
    "déconnecté",  # an account QuickBooks stopped pulling is « délié »
    "de forme #",  # « au format #RRVVBB »
    "\u2019",  # one apostrophe style: the straight one (docs/FRENCH.md)
    "(s)",  # counts go through ngettext, never "opération(s)"
]


@dataclass(frozen=True)
class Entry:
    id: str
    string: str  # a plural entry's forms, one a line


def _french() -> list[Entry]:
    """Every French entry; a plural one (ngettext) with its msgid and all its forms."""
    with (ROOT / "locales" / "fr" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return [
            Entry(m.id[0], "\n".join(m.string))
            if isinstance(m.id, tuple)
            else Entry(m.id, m.string)
            for m in read_po(f, locale="fr")
            if m.id
        ]


def test_french_typography_follows_the_oqlf() -> None:
    """No ordinary space before : ; ? ! or inside « », a no-break space before every colon
    that ends a clause, and every guillemet opened is closed."""
    wrong = []
    for m in _french():
        text = m.string
        if re.search(r" [:;?!]", text) or "« " in text or " »" in text:
            wrong.append((m.id, "ordinary space", text))
        if re.search(r"[^\u00a0]:(\s|$)", text):
            wrong.append((m.id, "colon without its no-break space", text))
        if text.count("«") != text.count("»"):
            wrong.append((m.id, "unbalanced « »", text))
    assert wrong == []


def test_the_typography_check_catches_an_ordinary_space() -> None:
    """The check above fails on what it is meant to catch."""
    assert re.search(r" [:;?!]", "Facultatif : sans elle")
    assert "« " in "Sélectionnez « Lier le compte »."
    assert not re.search(r" [:;?!]", f"Facultatif{NB}: sans elle")


def test_no_french_string_is_left_in_english() -> None:
    same = [m.id for m in _french() if m.string == m.id and m.id not in SAME_IN_FRENCH]
    assert same == [], "translate these, or allow-list them in SAME_IN_FRENCH with a reason"


@pytest.mark.parametrize("term", NOT_OUR_TERMS)
def test_one_term_per_concept(term: str) -> None:
    found = [m.string for m in _french() if term.lower() in m.string.lower()]
    assert found == [], f"{term!r} is not the glossary's term (docs/FRENCH.md)"


def test_counts_have_their_french_plural_forms() -> None:
    """ngettext's entries carry both French forms (1 and 0 take the singular, in French)."""
    plural = {e.id: e.string.split("\n") for e in _french() if "\n" in e.string}
    assert plural["%(num)s of %(limit)s characters"] == [
        "%(num)s caractère sur %(limit)s",
        "%(num)s caractères sur %(limit)s",
    ]
    assert all(len(forms) == 2 and all(forms) for forms in plural.values()), plural


def test_the_glossary_is_linked_from_the_readme() -> None:
    glossary = (ROOT / "docs" / "FRENCH.md").read_text()
    assert "page de liaison" in glossary and "Lier le compte" in glossary
    assert "docs/FRENCH.md" in (ROOT / "README.md").read_text()


# ---- push validation in the page's language ---------------------------------------------------


def _every_rule() -> rules.Verdict:
    today = date(2026, 11, 20)
    state = rules.AccountState("disconnected", date(2026, 11, 15), date(2026, 11, 19), today)
    items = [
        tx("tx-a", "2026-11-21"),  # future
        tx("tx-a", "2026-11-10", "0.001"),  # duplicate id, backfill, decimals
        tx("tx-c", "2026-11-14", "0"),  # before the feed start, zero
        tx("tx-d", "2026-11-18", "1e14", balance="0.005"),  # too large, balance decimals
        tx("tx-e", "2026-11-17", status="pending"),
        tx("tx-f", "2026-11-17", cleared=False),
        tx("tx-g", "2026-11-17", clearedOnDate="2026-11-16"),
        tx("tx-h", "2026-02-30"),
        tx("tx-i", "2026-11-19", " ", transactionType="Debit"),
        {"id": "tx-j", "date": "2026-11-19", "amount": "5.00"},  # no description
        tx("known", "2026-11-19"),
        "not an object",
    ]
    return rules.judge(items, state, {"known"})


def test_every_rule_message_is_translated_without_the_id_twice() -> None:
    verdict = _every_rule()
    validators = {e.validatorName for e in verdict.errors}
    assert len(validators) >= 8, validators
    for error in verdict.errors:
        note = messages.note(error.model_dump(), "fr")
        assert note.lang == "fr", f"no French for {error.validatorName}: {error.message}"
        assert error.itemId not in note.text or error.itemId in ("account", "transactions"), note
        english = messages.note(error.model_dump(), "en")
        assert english.lang == "en" and not english.text.startswith(f"{error.itemId}:")


def test_dates_and_amounts_are_written_in_french() -> None:
    note = messages.note(
        {
            "itemId": "r-1",
            "validatorName": "NoFutureDates",
            "message": "r-1: cleared on 2026-11-30, after today (2026-11-29 in the company's "
            "time zone); future-dated transactions cannot be pushed",
        },
        "fr",
    )
    assert note.text.startswith("Compensée le 30 novembre 2026, après aujourd'hui")
    warning = messages.note(
        {
            "itemId": "w",
            "validatorName": "TransactionTypeSign",
            "message": "w: a Debit with a positive amount (1234.5); QuickBooks shows money in "
            "by the sign of the amount",
        },
        "fr",
    )
    assert f"(1{NB}234,50)" in warning.text and warning.text.startswith("Débit")  # two decimals


def test_an_unknown_message_is_shown_as_english_and_marked_so() -> None:
    note = messages.note(
        {"itemId": "x", "message": "x: something new", "validatorName": "New"}, "fr"
    )
    assert (note.text, note.lang) == ("something new", "en")


@pytest.fixture
async def french_staff(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], tenant: TenantKeys
) -> Staff:
    email, password = await add_user(sessions, tenant.name)
    staff = Staff(client, email, password)
    assert (await staff.sign_in()).status_code == 303
    r = await staff.post("/portal/preferences", {"lang": "fr", "back": "/portal/companies"})
    assert r.status_code == 303
    return staff


async def test_a_rejected_push_and_warnings_read_in_french(
    french_staff: Staff, linkable: Linkable
) -> None:
    feed = await connect(linkable, start=day(-3))
    assert (await feed.push([tx("r-1", day(1)), tx("r-2", day(-1), "0.001")])).status_code == 400
    accepted = await feed.push([tx("w-1", day(0), "12.00", transactionType="Debit")])
    assert accepted.status_code == 200, accepted.text
    page = await french_staff.get(f"/portal/companies/{linkable.company['id']}")
    html = page.text
    assert 'lang="fr-CA"' in html
    for english in ("cleared on", "decimal places", "r-1: r-1", "QuickBooks shows money"):
        assert english not in html
    assert "Compensée le" in html and "compte plus de 2 décimales" in html
    assert "Débit dont le montant est positif" in html
    assert html.count(">r-1<") == 1, "the id is printed once"
    assert 'lang="en"' not in html.split("<main", 1)[1], "nothing falls back to English"


# ---- contrast, formats, credentials -----------------------------------------------------------


@pytest.mark.parametrize(
    ("accent", "ink", "at_least"),
    [
        ("#ff5a00", "#000000", 6.7),
        ("#2e8b57", "#000000", 4.9),
        ("#ffdd00", "#000000", 15.5),
        ("#0b6e4f", "#ffffff", 6.2),
        ("#000000", "#ffffff", 21),
    ],
)
def test_ink_has_the_better_wcag_contrast(accent: str, ink: str, at_least: float) -> None:
    assert contrast.ink_on(accent) == ink
    assert contrast.ratio(accent, ink) >= at_least


def test_every_accent_gets_at_least_4_5_to_1() -> None:
    worst = min(
        contrast.ratio(c, contrast.ink_on(c))
        for c in (
            f"#{r:x}{r:x}{g:x}{g:x}{b:x}{b:x}"
            for r in range(16)
            for g in range(16)
            for b in range(16)
        )
    )
    assert worst >= 4.5


@pytest.mark.parametrize(
    ("currency", "language", "shown"),
    [
        ("USD", "en", "US$1,234.56"),
        ("CAD", "en", "CA$1,234.56"),
        ("USD", "fr", f"1{NB}234,56{NB}${NB}US"),
        ("CAD", "fr", f"1{NB}234,56{NB}${NB}CA"),
    ],
)
def test_money_names_its_currency(currency: str, language: str, shown: str) -> None:
    assert i18n.money(Decimal("1234.56"), currency, language) == shown


def test_times_to_the_minute_that_do_not_split() -> None:
    moment = datetime(2026, 11, 29, 18, 58, 12, tzinfo=UTC)
    french = i18n.when(moment, "fr")
    assert french == f"29{NB}nov.{NB}2026, 18{NB}h{NB}58{NB}UTC"
    english = i18n.when(moment, "en")
    assert ":12" not in english and english.endswith(f"6:58{NNB}PM{NB}UTC")


def test_credentials_have_no_look_alikes() -> None:
    for _ in range(300):
        username, password = new_username(), new_password()
        assert not set(LOOK_ALIKES) & set(username + password), (username, password)
        assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", username)
        assert re.fullmatch(r"[A-Za-z2-9]{24}", password)


# ---- the Link pages --------------------------------------------------------------------------


async def _credentials_page(client: httpx.AsyncClient, api: Api, language: str) -> str:
    url, _, _ = await link_url(api)
    await open_link(client, url)
    setup = await client.get("/link/setup")
    csrf = csrf_of(setup.text)
    await client.post("/link/language", data={"csrf": csrf, "lang": language, "back": "setup"})
    await client.post("/link/location", data={"csrf": csrf, "location": "us-ca"})
    r = await client.post("/link/credentials", data={"csrf": csrf})
    assert r.status_code == 200
    return r.text


async def test_french_steps_use_quickbooks_own_labels(client: httpx.AsyncClient, api: Api) -> None:
    html = await _credentials_page(client, api, "fr")
    assert f"«{NB}Opérations bancaires{NB}»" in html
    assert f"«{NB}Lier le compte{NB}»" in html
    assert "QuickBooks en ligne" in html and "QuickBooks Online" not in html
    assert "Copier le nom d" in html and "Copier le mot de passe" in html


async def test_changing_language_on_the_credentials_page_warns_first(
    client: httpx.AsyncClient, api: Api
) -> None:
    html = await _credentials_page(client, api, "en")
    header = html.split("<main", 1)[0]
    assert 'href="#language-warning"' in header, "the header leads to the warning, not away"
    assert 'action="/link/language"' not in header
    warning = html.split('id="language-warning"', 1)[1]
    assert "shown only once" in warning and 'name="lang" value="fr"' in warning


async def test_form_expired_page_links_to_a_page_not_a_405(
    client: httpx.AsyncClient, api: Api
) -> None:
    url, _, _ = await link_url(api)
    await open_link(client, url)
    r = await client.post("/link/credentials", data={"csrf": "forged"})
    assert r.status_code == 403
    link = re.search(r'<a href="([^"]+)" lang="fr">Français</a>', r.text)
    assert link and link.group(1) == "/link/setup?lang=fr"
    after = await client.get(link.group(1))
    assert after.status_code == 200 and after.headers["content-type"].startswith("text/html")
    assert 'lang="fr-CA"' in after.text
    client.cookies.clear()
    gone = await client.post("/link/credentials", data={"csrf": "x"})
    target = re.search(r'<a href="([^"]+)" lang="fr">', gone.text)
    assert gone.status_code == 401 and target and target.group(1) == "/link/setup?lang=fr"
    page = await client.get(target.group(1))
    assert page.status_code == 401 and "Ce lien ne peut plus être utilisé" in page.text


async def test_location_without_a_choice_gets_an_error_summary(
    client: httpx.AsyncClient, api: Api
) -> None:
    url, _, _ = await link_url(api)
    await open_link(client, url)
    csrf = csrf_of((await client.get("/link/setup")).text)
    r = await client.post("/link/location", data={"csrf": csrf})
    assert r.status_code == 400
    assert "data-error-summary" in r.text and 'href="#loc-us-ca"' in r.text
    assert r.text.count('aria-invalid="true"') == 2
    assert 'aria-describedby="location-error location-hint"' in r.text


async def test_an_english_callout_on_a_french_page_says_it_is_english(
    client: httpx.AsyncClient, api: Api
) -> None:
    body = {"callout": {"en": {"title": "Questions?", "body": "Call us."}}}
    assert (await api.call("PUT", "/settings/link", body)).status_code == 200
    url, _, _ = await link_url(api)
    await open_link(client, url, **{"Accept-Language": "fr-CA"})
    html = (await client.get("/link/setup")).text
    assert re.search(r'<aside class="callout"[^>]* lang="en">', html)
    assert "se terminant par" in html, "the masked number is read as words"


# ---- the portal's forms ------------------------------------------------------------------------


async def test_sign_in_failure_is_tied_to_the_fields(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], tenant: TenantKeys
) -> None:
    email, _ = await add_user(sessions, tenant.name)
    r = await Staff(client, email, "x").sign_in(password="wrong password")
    assert r.status_code == 401
    assert "data-error-summary" in r.text and 'href="#email"' in r.text
    for field in ("email", "password"):
        tag = re.search(rf'<input id="{field}"[^>]*>', r.text)
        assert tag and 'aria-invalid="true"' in tag.group(0)
        assert 'aria-describedby="sign-in-error"' in tag.group(0)


async def test_branding_errors_name_the_french_field_and_the_contrast_shows(
    french_staff: Staff,
) -> None:
    form = {"title_en": "Hi", "body_en": "Call us.", "title_fr": "Allô", "body_fr": ""}
    r = await french_staff.post("/portal/branding", {**form, "accent": "#ffdd00", "action": "save"})
    assert r.status_code == 400
    assert 'href="#body_fr"' in r.text or 'href="#title_fr"' in r.text
    assert "la note en français doit avoir un titre et un texte" in r.text
    assert "note en anglais doit avoir" not in r.text, "not the English note's message"
    preview = await french_staff.post(
        "/portal/branding",
        {**form, "body_fr": "Appelez-nous.", "accent": "#ffdd00", "action": "preview"},
    )
    assert preview.status_code == 200
    assert "noir, contraste de 15,5" in preview.text
    assert re.search(r'<p class="warning" data-light>', preview.text), "light accent warned"
    dark = await french_staff.post(
        "/portal/branding",
        {**form, "body_fr": "Appelez-nous.", "accent": "#0b6e4f", "action": "preview"},
    )
    assert re.search(r'<p class="warning" data-light hidden>', dark.text)
