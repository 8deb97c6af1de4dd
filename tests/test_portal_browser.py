"""The client portal in real headless Chromium, in English and in French: sign in, drill down from
the companies to an account's chart and transactions, edit the Link branding with its live
preview (under the real CSP: script and CSSOM only), save, resend a webhook delivery, sign out.
Each page is screenshotted and audited with axe-core, as the user sees it (in a second context
that may inject axe, with the same edits typed)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.helpers.chromium import ROOT, audit
from tests.helpers.live import tenant_with_activity
from tests.helpers.servers import LiveServer

TEXT = {
    "en": {
        "sign_in": "Sign in",
        "status": "Sync status",
        "branding": "Link page",
        "saved": "Saved.",
        "sign_out": "Sign out",
        "count": "9 of 50 characters",
        "body_count": "8 of 150 characters",
        "chart": "Transactions accepted and sent per day",
        "filter": "Filter",
        "connected": "connected",
        "webhooks": "Webhooks",
        "resend": "Resend",
        "resent": "Queued again",
        "privacy": "Privacy",
        "access": "Viewed",
        "calendar": "Calendar",
        "first_gap": "First gap",
    },
    "fr": {
        "sign_in": "Ouvrir une session",
        "status": "État de la synchronisation",
        "branding": "Page de liaison",
        "saved": "Enregistré.",
        "sign_out": "Fermer la session",
        "count": "9 caractères sur 50",
        "body_count": "8 caractères sur 150",
        "chart": "Opérations acceptées et envoyées par jour",
        "filter": "Filtrer",
        "connected": "lié",
        "webhooks": "Crochets Web",
        "resend": "Livrer de nouveau",
        "resent": "Remise en file",
        "privacy": "Confidentialité",
        "access": "Consultation",
        "calendar": "Calendrier",
        "first_gap": "Premier écart",
    },
}


@pytest.mark.parametrize("language", ["en", "fr"])
async def test_sign_in_drill_down_and_branding(
    browser: Any, live_server: LiveServer, language: str
) -> None:
    t = TEXT[language]
    email, password, company = tenant_with_activity(live_server)
    locale = "fr-CA" if language == "fr" else "en-US"
    viewport = {"width": 1100, "height": 900}
    context = await browser.new_context(locale=locale, viewport=viewport)
    auditor = await browser.new_context(locale=locale, viewport=viewport, bypass_csp=True)
    page, checker = await context.new_page(), await auditor.new_page()
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security" in m.text else None)

    async def check(name: str, edits: dict[str, str] | None = None) -> None:
        """Audit and screenshot what the user sees: the same page, with the same edits typed."""
        await auditor.add_cookies(await context.cookies())
        await checker.goto(page.url)
        for field, value in (edits or {}).items():
            await checker.fill(field, value)
        await audit(checker, f"portal-{language}-{name}")

    try:
        await page.goto(f"{live_server.url}/portal/companies")
        assert "/portal/sign-in" in page.url
        assert await page.get_attribute("html", "lang") == ("fr-CA" if language == "fr" else "en")
        await check("1-sign-in")
        await page.fill("#email", email)
        await page.fill("#password", "a wrong password")
        await page.get_by_role("button", name=t["sign_in"]).click()
        assert await page.get_by_role("alert").count() == 1
        await page.fill("#password", password)
        await page.get_by_role("button", name=t["sign_in"]).click()
        await page.wait_for_url("**/portal/companies")
        assert await page.locator("h1").inner_text() == t["status"]
        await check("2-companies")

        await page.get_by_role("link", name="Toft Stores").click()
        await page.wait_for_url(f"**/portal/companies/{company['id']}")
        row = page.get_by_role("row", name=re.compile("^Business Checking chk-1"))
        assert t["connected"] in (await row.inner_text()).lower()
        cells = await row.locator("td.num").all_inner_texts()
        assert cells == ["2", "3"], "2 pending, 3 sent"
        await check("3-company")

        await row.get_by_role("link").click()
        await page.wait_for_url("**/accounts/*")
        assert t["chart"] in await page.locator("figure figcaption").inner_text()
        assert await page.locator("[aria-labelledby=transactions-caption] tbody tr").count() == 5
        await page.select_option("#filter-state", "pending")
        assert "state=" not in page.url, "choosing an option alone changes nothing (WCAG 3.2.2)"
        await page.get_by_role("button", name=t["filter"]).click()
        await page.wait_for_url("**state=pending")
        assert await page.locator("[aria-labelledby=transactions-caption] tbody tr").count() == 2
        await check("4-account")

        await page.get_by_role("link", name=t["calendar"]).click()
        await page.wait_for_url("**/certificates")
        assert t["first_gap"] in await page.locator("h2#first-gap").inner_text()
        await auditor.add_cookies(await context.cookies())
        await checker.goto(page.url)
        await audit(checker, f"portal-{language}-certificates", shot=False)
        await page.go_back()

        await page.get_by_role("link", name=t["branding"]).click()
        await page.wait_for_url("**/portal/branding")
        edits = {
            "#title_en": "Questions",
            "#body_en": "Call us.",
            "#title_fr": "Des questions",
            "#body_fr": "Appelez-nous.",
            "#accent": "#ffcc00",
        }
        await page.fill("#title_en", edits["#title_en"])
        assert await page.locator("#title_en-count").inner_text() == t["count"]
        previews = page.locator(".pv-title")
        assert await previews.all_inner_texts() == ["Questions", "Questions"], "FR falls back"
        await page.fill("#body_en", edits["#body_en"])
        assert await page.locator("#body_en-count").inner_text() == t["body_count"]
        await page.fill("#title_fr", edits["#title_fr"])
        await page.fill("#body_fr", edits["#body_fr"])
        assert await previews.all_inner_texts() == ["Questions", "Des questions"]
        assert await page.locator(".pv-body").all_inner_texts() == ["Call us.", "Appelez-nous."]
        await page.fill("#accent", edits["#accent"])
        button = page.locator(".pv-button").first
        colour = await button.evaluate("b => getComputedStyle(b).backgroundColor")
        assert colour == "rgb(255, 204, 0)", "the preview follows the colour"
        ink = await button.evaluate("b => getComputedStyle(b).color")
        assert ink == "rgb(0, 0, 0)", "dark text on a light accent"
        await check("5-branding", edits)
        shown = checker.locator(".pv-title")
        assert await shown.all_inner_texts() == ["Questions", "Des questions"], "audited as edited"
        await page.locator("button[value=save]").click()
        await page.wait_for_url("**/portal/branding?saved=1")
        assert t["saved"] in await page.get_by_role("status").inner_text()
        assert await page.input_value("#title_fr") == "Des questions"

        await page.get_by_role("link", name=t["webhooks"]).click()
        await page.wait_for_url("**/portal/webhooks")
        assert "https://example.test/hook" in await page.locator("main").inner_text()
        await check("6-webhooks")
        resend = page.locator("main table button").first  # the first push's Success event
        assert await resend.inner_text() == t["resend"]
        await resend.click()
        await page.wait_for_url("**/portal/webhooks?resent=1")
        assert t["resent"] in await page.get_by_role("status").inner_text()

        # The privacy page: the company pages seen above are in the access log.
        await page.get_by_role("link", name=t["privacy"]).click()
        await page.wait_for_url("**/portal/privacy")
        assert t["access"] in await page.locator("main table").first.inner_text()
        await check("7-privacy")
        assert blocked == [], f"the CSP blocked something: {blocked}"

        await page.get_by_role("button", name=t["sign_out"]).click()
        await page.wait_for_url("**/portal/sign-in*")
        await page.goto(f"{live_server.url}/portal/companies")
        assert "/portal/sign-in" in page.url
    finally:
        await context.close()
        await auditor.close()


def test_readme_shows_portal_screenshots() -> None:
    """The README shows two of the screenshots these tests take (copied to docs/screenshots)."""
    readme = (ROOT / "README.md").read_text()
    for name in ("portal-en-5-branding.png", "portal-fr-3-company.png"):
        assert (ROOT / "docs" / "screenshots" / name).exists(), name
        assert f"docs/screenshots/{name}" in readme
