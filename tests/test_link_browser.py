"""The Link pages in real headless Chromium (Debian's, driven by Playwright), in English and in
French, arriving as SMBs do: the linkUrl clicked in a webmail page on another site (a page served
on `localhost` links to the service on `127.0.0.1`). Press Start, switch language mid-flow,
confirm the location, get credentials, copy, check they authenticate a pull, revoke. A link
fetched first by a mail scanner still works. Every step is screenshotted and audited with
axe-core."""

from __future__ import annotations

import base64
import html
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers.chromium import SHOTS, audit
from tests.helpers.live import tenant_with_feed
from tests.helpers.servers import LiveServer

ROOT = Path(__file__).resolve().parents[1]


def idx_status(live: LiveServer, tenant: dict[str, Any], username: str, password: str) -> int:
    pair = base64.b64encode(f"{username}:{password}".encode()).decode()
    key = base64.b64encode(tenant["partnerKeys"]["production"].encode()).decode()
    r = httpx.get(
        f"{live.url}/partners/intuit/idx/accounts",
        headers={"Authorization": f"Basic {pair}", "X-Partner-Key": key},
    )
    return r.status_code


class Webmail:
    """Another site: a real HTTP server on `localhost` whose pages are e-mails holding a link.
    Chromium treats `localhost` and `127.0.0.1` as different sites, as webmail and us."""

    def __init__(self) -> None:
        self.mails: dict[str, str] = {}
        mails = self.mails

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                link = mails.get(self.path)
                body = (
                    "<!doctype html><title>Inbox</title><p>Your lender writes:"
                    f' <a id="link" href="{html.escape(link)}">Set up your bank feeds</a>'
                    if link
                    else "not found"
                ).encode()
                self.send_response(200 if link else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://localhost:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def mail(self, link: str) -> str:
        path = f"/mail/{len(self.mails)}"
        self.mails[path] = link
        return self.url + path


@pytest.fixture(scope="module")
def webmail() -> Iterator[Webmail]:
    mail = Webmail()
    yield mail
    mail.server.shutdown()


async def click_from_mail(page: Any, webmail: Webmail, link: str) -> None:
    """Open the e-mail on the other site and click the link in it (a cross-site navigation)."""
    await page.goto(webmail.mail(link))
    assert page.url.startswith("http://localhost:")
    async with page.expect_navigation():
        await page.click("#link")
    assert page.url.startswith("http://127.0.0.1:")


TEXT = {
    "en": {
        "landing": "Bank feeds for Toft Stores",
        "start": "Start",
        "step1": "Connect to QuickBooks Online Bank Feeds",
        "next": "Next",
        "step2": "Set up QuickBooks bank feeds",
        "switch": "Français",
        "here": "In the United States or Canada",
        "continue": "Continue",
        "get": "Get credentials",
        "copy": "Copy the username",
        "revoke": "Revoke credentials",
        "confirm_revoke": "Yes, revoke credentials",
        "revoked": "Credentials revoked",
        "balance": "US$1,234.56",
        "callout": "Questions?",
        "lang": "en",
    },
    "fr": {
        "landing": "Flux bancaires de Toft Stores",
        "start": "Commencer",
        "step1": "Relier vos comptes aux flux bancaires de QuickBooks en ligne",
        "next": "Suivant",
        "step2": "Configurer les flux bancaires de QuickBooks",
        "switch": "English",
        "here": "Aux États-Unis ou au Canada",
        "continue": "Continuer",
        "get": "Obtenir les identifiants",
        "copy": "Copier le nom d'utilisateur",
        "revoke": "Révoquer les identifiants",
        "confirm_revoke": "Oui, révoquer les identifiants",
        "revoked": "Identifiants révoqués",
        "balance": "1\u00a0234,56\u00a0$\u00a0US",
        "callout": "Des questions?",
        "lang": "fr-CA",
    },
}


@pytest.mark.parametrize("language", ["en", "fr"])
async def test_the_whole_flow(
    browser: Any, live_server: LiveServer, webmail: Webmail, language: str
) -> None:
    t, other = TEXT[language], TEXT["fr" if language == "en" else "en"]
    tenant, link, http = tenant_with_feed(live_server)
    context = await browser.new_context(
        locale="fr-CA" if language == "fr" else "en-US",
        bypass_csp=True,
        viewport={"width": 1024, "height": 900},
    )
    await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = await context.new_page()
    try:
        await click_from_mail(page, webmail, link)
        assert await page.locator("h1").inner_text() == t["landing"]
        assert await page.get_attribute("html", "lang") == t["lang"]
        assert await page.locator("img.logo").count() == 1
        assert await page.locator("img.logo").evaluate("i => i.naturalWidth") > 0, "logo loads"
        await audit(page, f"{language}-0-landing")
        await page.get_by_role("button", name=t["start"]).click()
        assert await page.locator("h1").inner_text() == t["step1"]
        assert await page.get_attribute("html", "lang") == t["lang"]
        assert await page.locator("img.logo").count() == 1
        await audit(page, f"{language}-1-connect")

        await page.get_by_role("link", name=t["next"]).click()
        assert await page.locator("h1").inner_text() == t["step2"]
        body = await page.locator("main").inner_text()
        assert t["balance"] in body, body
        assert "••••" in body and "5670" in body  # read as "ending in 5670"
        assert t["callout"] in body
        await audit(page, f"{language}-2-setup")

        # Switch language mid-flow, and back: the choice is kept across pages.
        await page.get_by_role("button", name=t["switch"]).click()
        assert await page.locator("h1").inner_text() == other["step2"]
        assert other["callout"] in await page.locator("main").inner_text()
        await page.get_by_role("button", name=other["switch"]).click()
        assert await page.locator("h1").inner_text() == t["step2"]

        await page.get_by_label(t["here"]).check()
        await page.get_by_role("button", name=t["continue"]).click()
        await audit(page, f"{language}-3-location-confirmed")
        await page.get_by_role("button", name=t["get"]).click()
        username = await page.locator("#username").inner_text()
        password = await page.locator("#password").inner_text()
        await audit(page, f"{language}-4-credentials")

        await page.get_by_role("button", name=t["copy"]).first.click()
        assert await page.evaluate("navigator.clipboard.readText()") == username
        assert idx_status(live_server, tenant, username, password) == 200

        await page.set_viewport_size({"width": 360, "height": 900})
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, "no horizontal scrolling at 360 px"
        await page.screenshot(
            path=str(SHOTS / f"{language}-4-credentials-360px.png"), full_page=True
        )
        await page.set_viewport_size({"width": 1024, "height": 900})

        await page.get_by_text(t["revoke"] + "…").click()  # the confirmation, on the page
        await page.get_by_role("button", name=t["confirm_revoke"]).click()
        assert await page.locator("h1").inner_text() == t["revoked"]
        await audit(page, f"{language}-5-revoked")
        assert idx_status(live_server, tenant, username, password) == 401
    finally:
        await context.close()
        http.close()


async def test_not_eligible_and_expired_pages(
    browser: Any, live_server: LiveServer, webmail: Webmail
) -> None:
    _, link, http = tenant_with_feed(live_server)
    context = await browser.new_context(locale="fr-CA", bypass_csp=True)
    page = await context.new_page()
    try:
        await click_from_mail(page, webmail, link)
        await page.get_by_role("button", name="Commencer").click()
        await page.get_by_role("link", name="Suivant").click()
        await page.get_by_label("Ailleurs").check()
        await page.get_by_role("button", name="Continuer").click()
        assert await page.locator("h1").inner_text() == "Non offert pour votre entreprise"
        assert await page.locator("#username").count() == 0
        await audit(page, "fr-not-eligible")
        await click_from_mail(page, webmail, link)  # the OTP was spent: the link works once
        assert await page.locator("h1").inner_text() == "Ce lien ne peut plus être utilisé"
        await audit(page, "fr-expired")
    finally:
        await context.close()
        http.close()


@pytest.mark.parametrize("language", ["en", "fr"])
async def test_a_link_a_mail_scanner_fetched_still_works(
    browser: Any, live_server: LiveServer, webmail: Webmail, language: str
) -> None:
    """Scanners and link previews GET the link before the SMB clicks it: that spends nothing."""
    t = TEXT[language]
    tenant, link, http = tenant_with_feed(live_server)
    async with httpx.AsyncClient(follow_redirects=True) as scanner:
        for _ in range(2):
            scanned = await scanner.get(link)
            assert scanned.status_code == 200, scanned.text[:300]
    context = await browser.new_context(
        locale="fr-CA" if language == "fr" else "en-US", bypass_csp=True
    )
    page = await context.new_page()
    try:
        await click_from_mail(page, webmail, link)
        await page.get_by_role("button", name=t["start"]).click()
        assert await page.locator("h1").inner_text() == t["step1"]
        await page.get_by_role("link", name=t["next"]).click()
        await page.get_by_label(t["here"]).check()
        await page.get_by_role("button", name=t["continue"]).click()
        await page.get_by_role("button", name=t["get"]).click()
        username = await page.locator("#username").inner_text()
        password = await page.locator("#password").inner_text()
        assert idx_status(live_server, tenant, username, password) == 200
    finally:
        await context.close()
        http.close()


async def test_company_redirect_from_another_site(
    browser: Any, live_server: LiveServer, webmail: Webmail
) -> None:
    """Company.redirect clicked from a webmail: the company's connection's Link flow in French."""
    _, _, http = tenant_with_feed(live_server)
    company = http.post("/companies", json={"name": "Dupont Hardware"}).json()
    context = await browser.new_context(locale="fr-CA", bypass_csp=True)
    page = await context.new_page()
    try:
        await click_from_mail(page, webmail, company["redirect"])
        assert await page.locator("h1").inner_text() == "Flux bancaires de Dupont Hardware"
        await audit(page, "fr-0-company-redirect")
        await page.get_by_role("button", name="Commencer").click()
        assert await page.locator("h1").inner_text() == TEXT["fr"]["step1"]
        await click_from_mail(page, webmail, company["redirect"])
        assert await page.locator("h1").inner_text() == "Ce lien ne peut plus être utilisé"
        listed = http.get(f"/companies/{company['id']}/connections").json()
        assert [c["status"] for c in listed["results"]] == ["PendingAuth"]
    finally:
        await context.close()
        http.close()


def test_readme_screenshots_exist() -> None:
    """The README shows two of the screenshots these tests take (copied to docs/screenshots)."""
    readme = (ROOT / "README.md").read_text()
    for name in ("en-2-setup.png", "fr-4-credentials.png"):
        assert (ROOT / "docs" / "screenshots" / name).exists(), name
        assert f"docs/screenshots/{name}" in readme
