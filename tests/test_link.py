"""The Link pages over HTTP: OTP, session, CSRF, security headers, location gate, credentials,
revoke, branding API, logo checks, hostile text, and the catalogs."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import uuid
from datetime import timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest
from babel.messages.pofile import read_po
from PIL import Image

from app import clock
from tests.helpers.builders import TenantKeys, v1_account
from tests.helpers.clients import Api, Idx, csrf_of, hidden
from tests.helpers.images import jpeg, png
from tests.helpers.link import link_url, open_link
from tests.helpers.logs import remember_credentials, request_log

ROOT = Path(__file__).resolve().parents[1]
PNG = png()
JPEG = jpeg()


async def test_otp_opens_a_session_once(client: httpx.AsyncClient, api: Api) -> None:
    url, _, _ = await link_url(api)
    r = await open_link(client, url)
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    step1 = await client.get("/link/connect")
    assert step1.status_code == 200
    assert "Connect to QuickBooks Online Bank Feeds" in step1.text
    assert "Step 1 of 2" in step1.text
    client.cookies.clear()
    again = await client.get(url)
    assert again.status_code == 401, "a spent OTP never opens a second session"
    assert "Ask the app that sent you here for a new link." in again.text


async def test_expired_otp_is_a_translated_401(client: httpx.AsyncClient, api: Api) -> None:
    url, _, _ = await link_url(api)
    clock.shift(timedelta(minutes=61))
    r = await client.get(url, headers={"Accept-Language": "fr-CA,fr;q=0.9"})
    assert r.status_code == 401
    assert "Ce lien ne peut plus être utilisé" in r.text
    assert '<html lang="fr-CA">' in r.text
    bogus = url.split("?")[0] + "?otp=nope"
    assert (await client.get(bogus)).status_code == 401
    assert (await client.get("/link/setup")).status_code == 401, "no session, no page"


async def test_security_headers(client: httpx.AsyncClient, api: Api) -> None:
    url, _, _ = await link_url(api)
    await open_link(client, url)
    r = await client.get("/link/setup")
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["cache-control"] == "no-store"
    assert "style=" not in r.text and "<script>" not in r.text, "no inline style or script"
    assert re.findall(r'(?:src|href)="(https?:)?//', r.text) == [], "no third-party assets"


async def test_link_requests_log_the_tenant(
    client: httpx.AsyncClient, api: Api, tenant: TenantKeys
) -> None:
    url, _, _ = await link_url(api)
    await open_link(client, url)
    assert (await client.get("/link/connect")).status_code == 200
    line = request_log("/link/connect")
    assert line["tenant"] == tenant.id and line["status"] == 200 and line["correlationId"] != "-"


async def test_location_gate_credentials_and_revoke(
    client: httpx.AsyncClient, api: Api, tenant: TenantKeys
) -> None:
    url, _, _ = await link_url(api, balance=1234.56)
    await open_link(client, url)
    setup = await client.get("/link/setup")
    assert "US$1,234.56" in setup.text, "the currency is named in English too"
    assert "••••</span>" in setup.text and ">ending in </span>5670" in setup.text
    assert "12345670" not in setup.text, "numbers are masked"
    assert "Get credentials" not in setup.text, "no credentials before the location is confirmed"
    token = csrf_of(setup.text)

    early = await client.post("/link/credentials", data={"csrf": token})
    assert "Where is your business located?" in early.text

    forged = await client.post("/link/location", data={"csrf": "forged", "location": "us-ca"})
    assert forged.status_code == 403

    other = await client.post("/link/location", data={"csrf": token, "location": "other"})
    assert "only be set up for businesses located in the United States or Canada" in other.text
    assert "Get credentials" not in other.text

    ok = await client.post("/link/location", data={"csrf": token, "location": "us-ca"})
    assert ok.status_code == 303
    setup = await client.get("/link/setup")
    assert "Get credentials" in setup.text

    shown = await client.post("/link/credentials", data={"csrf": token})
    assert shown.headers["cache-control"] == "no-store"
    username = re.search(r'<code id="username">([^<]+)</code>', shown.text).group(1)  # type: ignore[union-attr]
    password = re.search(r'<code id="password">([^<]+)</code>', shown.text).group(1)  # type: ignore[union-attr]
    remember_credentials(username, password)
    idx = Idx(client, username, password, tenant.partner_keys["production"])
    assert (await idx.get("/accounts")).status_code == 200, "the shown credentials work"

    revoked = await client.post("/link/revoke", data={"csrf": token})
    assert "Credentials revoked" in revoked.text
    assert (await idx.get("/accounts")).status_code == 401


async def test_language_switch_keeps_the_choice(client: httpx.AsyncClient, api: Api) -> None:
    url, _, _ = await link_url(api, balance=1234.56, currency="CAD")
    await open_link(client, url, **{"Accept-Language": "en-US"})
    step1 = await client.get("/link/connect")
    token = csrf_of(step1.text)
    r = await client.post("/link/language", data={"csrf": token, "lang": "fr", "back": "setup"})
    assert r.headers["location"] == "/link/setup"
    setup = await client.get("/link/setup", headers={"Accept-Language": "en-US"})
    assert "Configurer les flux bancaires de QuickBooks" in setup.text
    assert "1\xa0234,56\xa0$\xa0CA" in setup.text, "fr_CA: non-breaking spaces, currency named"
    assert '<html lang="fr-CA">' in setup.text
    assert "English</button>" in setup.text
    step1 = await client.get("/link/connect")
    assert "Relier vos comptes aux flux bancaires de QuickBooks en ligne" in step1.text


async def test_branding_api_and_callout_fallback(client: httpx.AsyncClient, api: Api) -> None:
    r = await api.call("GET", "/settings/link")
    assert r.json()["callout"] is None and r.json()["logo"] is None
    body = {
        "callout": {"en": {"title": "Need help?", "body": "Call us at 1-800-555-0100."}},
        "accentColor": "#1A2B3C",
    }
    r = await api.call("PUT", "/settings/link", body)
    assert r.status_code == 200
    assert r.json()["accentColor"] == "#1a2b3c"
    for bad in (
        {"callout": {"en": {"title": "x" * 51, "body": "b"}}},
        {"callout": {"en": {"title": "t", "body": "x" * 151}}},
        {"callout": {"fr": {"title": "t", "body": "b"}}},
        {"callout": {"en": {"title": "bell\x07", "body": "b"}}},
        {"accentColor": "red"},
    ):
        assert (await api.call("PUT", "/settings/link", bad)).status_code == 400, bad
    assert (await api.call("GET", "/settings/link")).json()["callout"]["en"][
        "title"
    ] == "Need help?"

    url, _, _ = await link_url(api)
    await open_link(client, url)
    token = csrf_of((await client.get("/link/setup")).text)
    await client.post("/link/language", data={"csrf": token, "lang": "fr"})
    setup = await client.get("/link/setup")
    assert "Need help?" in setup.text, "French falls back to the English callout"
    theme = await client.get("/link/theme.css")
    assert "--accent: #1a2b3c" in theme.text and "--on-accent: #ffffff" in theme.text

    body["callout"]["fr"] = {"title": "Besoin d'aide?", "body": "Appelez-nous."}  # type: ignore[index]
    await api.call("PUT", "/settings/link", body)
    assert "Besoin d&#39;aide?" in (await client.get("/link/setup")).text


async def test_logo_checked_by_content(client: httpx.AsyncClient, api: Api) -> None:
    def put(content: bytes, kind: str) -> Any:
        return api.http.put(
            "/settings/link/logo", content=content, headers={**api.headers, "Content-Type": kind}
        )

    assert (await put(PNG, "image/png")).json()["logo"]["contentType"] == "image/png"
    assert (await put(JPEG, "image/png")).json()["logo"]["contentType"] == "image/jpeg"
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    assert (await put(svg, "image/svg+xml")).status_code == 415
    assert (await put(b"MZ\x90\x00fake.exe", "image/png")).status_code == 415, "renamed executable"
    assert (await put(PNG + b"\x00" * 300_000, "image/png")).status_code == 413
    assert (await put(b"", "image/png")).status_code == 400
    for size in ((600, 20), (10, 40)):  # a sliver once fitted to the header: refused, said why
        sliver = BytesIO()
        Image.new("RGB", size, "#0b6e4f").save(sliver, "PNG")
        refused = await put(sliver.getvalue(), "image/png")
        assert refused.status_code == 400 and "times wider than tall" in refused.json()["error"]
    url, _, _ = await link_url(api)
    await open_link(client, url)
    logo = await client.get("/link/logo")
    assert logo.headers["content-type"] == "image/jpeg"
    assert logo.content.startswith(b"\xff\xd8\xff")
    assert (await api.call("GET", "/settings/link")).json()["logo"]["sizeBytes"] == len(
        logo.content
    )
    assert 'src="/link/logo"' in (await client.get("/link/connect")).text


HOSTILE = [
    "<script>alert('x')</script>",
    '"><img src=x onerror=alert(1)>',
    "\u202eevil\u202c name",
    "W" * 150,
]


@pytest.mark.parametrize("text", HOSTILE)
async def test_hostile_text_renders_inert(client: httpx.AsyncClient, api: Api, text: str) -> None:
    title = text[:50]
    r = await api.call(
        "PUT", "/settings/link", {"callout": {"en": {"title": title, "body": text[:150]}}}
    )
    assert r.status_code == 200, r.text
    url, _, _ = await link_url(api, accountName=text[:255])
    await open_link(client, url)
    page = (await client.get("/link/setup")).text
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert "onerror=alert" not in page or "&#34;&gt;&lt;img" in page or "&gt;&lt;img" in page


def _msgids(path: Path) -> set[str]:
    with path.open("rb") as f:
        return {m.id for m in read_po(f) if m.id}


def test_catalogs_are_complete_and_the_template_is_fresh(tmp_path: Path) -> None:
    fresh = tmp_path / "messages.pot"
    subprocess.run(
        [
            str(Path(sys.executable).parent / "pybabel"),
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_",
            "-o",
            str(fresh),
            ".",
        ],
        cwd=ROOT,
        check=True,
    )
    assert _msgids(fresh) == _msgids(ROOT / "locales" / "messages.pot"), (
        "messages.pot is stale: run pybabel extract (see docs/DEVELOPMENT.md)"
    )
    with (ROOT / "locales" / "fr" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        french = read_po(f, locale="fr")
    missing = [m.id for m in french if m.id and (not m.string or m.fuzzy)]
    assert missing == [], f"French translations missing: {missing}"
    assert _msgids(fresh) <= {m.id for m in french if m.id}


# ---- opening a link: a GET spends nothing (SPEC §4 "Opening a link") -----------------------


async def test_a_get_spends_nothing(client: httpx.AsyncClient, api: Api) -> None:
    """Mail scanners and link previews fetch links: GET and HEAD show a page with one button."""
    url, _, _ = await link_url(api)
    for _ in range(3):
        scanned = await client.get(url)
        assert scanned.status_code == 200
        assert "Start" in scanned.text and 'method="post"' in scanned.text
        assert scanned.headers["cache-control"] == "no-store"
        assert "default-src 'none'" in scanned.headers["content-security-policy"]
    assert (await client.head(url)).status_code == 200
    client.cookies.clear()
    await open_link(client, url)
    assert (await client.get("/link/connect")).status_code == 200
    client.cookies.clear()
    assert (await client.get(url)).status_code == 401, "spent by the POST, not by the GETs"


async def test_start_needs_the_landing_pages_csrf_cookie(
    client: httpx.AsyncClient, api: Api
) -> None:
    url, _, _ = await link_url(api)
    landing = await client.get(url)
    form = {name: hidden(landing.text, name) for name in ("csrf", "otp", "lang")}
    path = url.split("?")[0]
    client.cookies.clear()
    forged = await client.post(path, data=form)  # another site's form: no cookie comes with it
    assert forged.status_code == 403 and "This form has expired" in forged.text
    await client.get(url)  # a fresh landing cookie, but the form's token is the old one
    mismatched = await client.post(path, data={**form, "csrf": "x" * 43})
    assert mismatched.status_code == 403
    assert "bf_link=" not in mismatched.headers.get("set-cookie", "")
    await open_link(client, url)  # the OTP was not spent by the refused posts


async def test_start_refuses_a_wrong_spent_or_expired_otp(
    client: httpx.AsyncClient, api: Api
) -> None:
    url, _, _ = await link_url(api)
    other, _, _ = await link_url(api)
    landing = await client.get(url)
    form = {name: hidden(landing.text, name) for name in ("csrf", "otp", "lang")}
    wrong_link = other.split("?")[0]
    r = await client.post(wrong_link, data=form)
    assert r.status_code == 401, "an OTP opens only its own connection"
    clock.shift(timedelta(minutes=61))
    r = await client.post(url.split("?")[0], data={**form, "lang": "fr"})
    assert r.status_code == 401 and "Ce lien ne peut plus être utilisé" in r.text


async def test_two_presses_at_once_open_one_session(client: httpx.AsyncClient, api: Api) -> None:
    url, _, _ = await link_url(api)
    landing = await client.get(url)
    form = {name: hidden(landing.text, name) for name in ("csrf", "otp", "lang")}
    path = url.split("?")[0]
    answers = await asyncio.gather(*(client.post(path, data=form) for _ in range(5)))
    assert sorted(r.status_code for r in answers) == [303, 401, 401, 401, 401]


async def test_the_landing_page_in_french_keeps_its_otp(
    client: httpx.AsyncClient, api: Api
) -> None:
    url, _, _ = await link_url(api)
    r = await client.get(url, headers={"Accept-Language": "fr-CA,fr;q=0.9"})
    assert r.status_code == 200 and '<html lang="fr-CA">' in r.text
    assert "Commencer" in r.text and hidden(r.text, "lang") == "fr"
    switch = re.search(r'<a href="([^"]+)" lang="en">English</a>', r.text)
    assert switch
    english = await client.get(url.split("?")[0] + switch.group(1).replace("&amp;", "&"))
    assert english.status_code == 200 and '<html lang="en">' in english.text
    assert hidden(english.text, "lang") == "en"
    await open_link(client, url, **{"Accept-Language": "fr-CA"})
    assert "Étape 1 sur 2" in (await client.get("/link/connect")).text


async def test_the_landing_page_shows_the_clients_branding(
    client: httpx.AsyncClient, api: Api
) -> None:
    await api.call("PUT", "/settings/link", {"accentColor": "#123456"})
    logo = await api.http.put(
        "/settings/link/logo", content=PNG, headers={**api.headers, "Content-Type": "image/png"}
    )
    assert logo.status_code == 200, logo.text
    url, _, _ = await link_url(api)
    otp = url.split("otp=")[1]
    landing = await client.get(url)
    assert f'src="/link/logo?otp={otp}"' in landing.text
    client.cookies.clear()
    assert "#123456" in (await client.get(f"/link/theme.css?otp={otp}")).text
    assert (await client.get(f"/link/logo?otp={otp}")).content == PNG
    assert (await client.get("/link/logo?otp=nope")).status_code == 404
    await client.get(url)
    await open_link(client, url)
    client.cookies.clear()
    assert (await client.get(f"/link/logo?otp={otp}")).status_code == 404, "spent: no more"
    assert "#0b6e4f" in (await client.get(f"/link/theme.css?otp={otp}")).text


# ---- Company.redirect (SPEC §4) -------------------------------------------------------------


def local(url: str) -> str:
    return url.replace("http://link.test", "")


async def test_company_redirect_opens_a_new_connection(client: httpx.AsyncClient, api: Api) -> None:
    company = await api.company()
    assert company["dataConnections"] == []
    redirect = local(company["redirect"])
    assert redirect.startswith(f"/companies/{company['id']}/link?otp=")
    await open_link(client, redirect)
    assert "Step 1 of 2" in (await client.get("/link/connect")).text
    listed = (await api.call("GET", f"/companies/{company['id']}/connections")).json()
    assert [c["status"] for c in listed["results"]] == ["PendingAuth"]
    client.cookies.clear()
    assert (await client.get(redirect)).status_code == 401, "single use"


async def test_company_redirect_reuses_the_newest_connection(
    client: httpx.AsyncClient, api: Api
) -> None:
    company = await api.company()
    await api.connection(company["id"])
    clock.shift(timedelta(seconds=1))
    newest = await api.connection(company["id"])
    path = f"/companies/{company['id']}/connections/{newest['id']}/connectionInfo/bankFeedAccounts"
    await api.call("POST", f"{path}/batch", [v1_account(accountName="Only on the newest")])
    fetched = (await api.call("GET", f"/companies/{company['id']}")).json()
    assert fetched["redirect"] != company["redirect"], "every get carries a fresh OTP"
    await open_link(client, local(fetched["redirect"]))
    setup = await client.get("/link/setup")
    assert "Only on the newest" in setup.text
    listed = (await api.call("GET", f"/companies/{company['id']}/connections")).json()
    assert listed["totalResults"] == 2, "no connection was made"


async def test_company_redirect_without_a_valid_otp_is_a_translated_page(
    client: httpx.AsyncClient, api: Api
) -> None:
    company = await api.company()
    listed = (await api.call("GET", "/companies")).json()["results"]
    bare = local(next(c for c in listed if c["id"] == company["id"])["redirect"])
    assert "otp=" not in bare
    for url in (bare, f"{bare}?otp=nope", f"/companies/{uuid.uuid4()}/link?otp=x"):
        r = await client.get(url, headers={"Accept-Language": "fr-CA"})
        assert r.status_code == 401 and r.headers["content-type"].startswith("text/html")
        assert "Ce lien ne peut plus être utilisé" in r.text
    other = await api.company("Other Co")
    stolen = local(other["redirect"]).replace(other["id"], company["id"])
    assert (await client.get(stolen)).status_code == 401, "an OTP opens only its own company"
    clock.shift(timedelta(minutes=61))
    assert (await client.get(local(company["redirect"]))).status_code == 401
