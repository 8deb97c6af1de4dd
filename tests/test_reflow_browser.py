"""Issue 20 in real Chromium: every Link page state and every portal page, in English and in
French, at 1280 px, 200% zoom, 360 px and 320 px: no horizontal scroll, no word broken outside
an id (measured in the page from each word's line boxes), axe-core finding nothing of any impact,
also with the accent colours that used to fail. One browser for the module, one context per
language, so the walk stays cheap."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.helpers.chromium import audit, reflow
from tests.helpers.live import tenant_with_activity, tenant_with_feed
from tests.helpers.servers import LiveServer

FOCUSED_SUMMARY = "document.activeElement?.hasAttribute('data-error-summary')"
ACCENTS = ("#ff5a00", "#2e8b57", "#ffdd00")
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"/>'
WORDS = {
    "en": {"start": "Start", "next": "Next", "continue": "Continue",
           "here": "In the United States or Canada",
           "else": "Somewhere else", "get": "Get credentials", "revoke": "Revoke credentials",
           "confirm_revoke": "Yes, revoke credentials",
           "sign_in": "Sign in", "save": "Save", "upload": "Upload logo"},
    "fr": {"start": "Commencer", "next": "Suivant", "continue": "Continuer",
           "here": "Aux États-Unis ou au Canada",
           "else": "Ailleurs", "get": "Obtenir les identifiants",
           "revoke": "Révoquer les identifiants", "sign_in": "Ouvrir une session",
           "confirm_revoke": "Oui, révoquer les identifiants",
           "save": "Enregistrer", "upload": "Téléverser le logo"},
}  # fmt: skip


async def _new_page(browser: Any, language: str) -> tuple[Any, Any]:
    context = await browser.new_context(
        locale="fr-CA" if language == "fr" else "en-US", bypass_csp=True
    )
    return context, await context.new_page()


@pytest.mark.parametrize("language", ["en", "fr"])
async def test_link_pages_reflow(browser: Any, live_server: LiveServer, language: str) -> None:
    w = WORDS[language]
    _, link, http = tenant_with_feed(live_server)
    context, page = await _new_page(browser, language)
    name = f"reflow-link-{language}"
    try:
        await page.goto(link)
        await reflow(page, f"{name}-landing")
        await page.get_by_role("button", name=w["start"]).click()
        await reflow(page, f"{name}-connect")
        await page.get_by_role("link", name=w["next"]).click()
        await reflow(page, f"{name}-setup")

        # The location sent without a choice (the browser's own check switched off).
        await page.evaluate(
            "document.querySelector('form[action=\"/link/location\"]').noValidate = true"
        )
        await page.get_by_role("button", name=w["continue"]).click()
        summary = page.locator("[data-error-summary]")
        assert await summary.count() == 1
        await page.wait_for_function(FOCUSED_SUMMARY, timeout=5000)
        await reflow(page, f"{name}-location-error")

        await page.get_by_label(w["else"]).check()
        await page.get_by_role("button", name=w["continue"]).click()
        await reflow(page, f"{name}-not-eligible")
        await page.goto(f"{live_server.url}/link/setup")
        await page.get_by_label(w["here"]).check()
        await page.get_by_role("button", name=w["continue"]).click()
        await reflow(page, f"{name}-location-confirmed")
        await page.get_by_role("button", name=w["get"]).click()
        await reflow(page, f"{name}-credentials")
        await page.get_by_text(w["revoke"] + "…").click()  # the confirmation, on the page
        await page.get_by_role("button", name=w["confirm_revoke"]).click()
        await reflow(page, f"{name}-revoked")

        for accent in ACCENTS:
            put = {"accentColor": accent, "callout": {"en": {"title": "Hi", "body": "Call us."}}}
            http.put("/settings/link", json=put).raise_for_status()
            await page.goto(f"{live_server.url}/link/setup")  # its Get credentials button
            await audit(page, f"{name}-accent-{accent[1:]}")
            await page.goto(f"{live_server.url}/link/connect")
            await audit(page, f"{name}-accent-{accent[1:]}-connect", shot=False)

        # A forged form: the "form expired" page, whose language link leads to a page, not a 405.
        await page.goto(f"{live_server.url}/link/setup")
        forge = "document.querySelectorAll('input[name=csrf]').forEach(i => i.value = 'forged')"
        await page.evaluate(forge)
        await page.get_by_role("button", name=w["get"]).click()
        assert "/link/credentials" in page.url and await page.locator("h1").count() == 1
        await reflow(page, f"{name}-form-expired")
        other = "English" if language == "fr" else "Français"
        await page.get_by_role("link", name=other).click()
        assert page.url.endswith("/link/setup?lang=" + ("en" if language == "fr" else "fr"))
        assert await page.locator("h1").count() == 1, "a page, not a raw JSON 405"

        await page.context.clear_cookies()
        await page.goto(link)  # spent
        await reflow(page, f"{name}-expired")
    finally:
        await context.close()
        http.close()


@pytest.mark.parametrize("language", ["en", "fr"])
async def test_portal_pages_reflow(browser: Any, live_server: LiveServer, language: str) -> None:
    w = WORDS[language]
    email, password, company = tenant_with_activity(live_server)
    context, page = await _new_page(browser, language)
    name = f"reflow-portal-{language}"
    base = live_server.url
    try:
        await page.goto(f"{base}/portal/sign-in?lang={language}")
        await reflow(page, f"{name}-sign-in")
        await page.fill("#email", email)
        await page.fill("#password", "not the password")
        await page.get_by_role("button", name=w["sign_in"]).click()
        await page.wait_for_function(FOCUSED_SUMMARY, timeout=5000)
        assert await page.get_attribute("#password", "aria-invalid") == "true"
        await reflow(page, f"{name}-sign-in-failed")
        await page.fill("#password", password)
        await page.get_by_role("button", name=w["sign_in"]).click()
        await page.wait_for_url("**/portal/companies")

        await reflow(page, f"{name}-companies")
        await page.goto(f"{base}/portal/companies/{company['id']}")
        await reflow(page, f"{name}-company")
        href = await page.locator("a[href*='/accounts/']").first.get_attribute("href")
        await page.goto(f"{base}{href}")
        await page.locator("details summary").click()  # the chart's numbers, shown
        await reflow(page, f"{name}-account")
        await page.goto(f"{base}/portal/webhooks")
        await reflow(page, f"{name}-webhooks")
        await page.goto(f"{base}/portal/privacy")
        await reflow(page, f"{name}-privacy")
        await page.goto(f"{base}/portal/feed-health")
        await page.locator("details summary").click()
        await reflow(page, f"{name}-feed-health")
        await page.goto(f"{base}/portal/companies/{uuid.uuid4()}")
        await reflow(page, f"{name}-not-found")

        await page.goto(f"{base}/portal/branding")
        await reflow(page, f"{name}-branding")
        for accent in ACCENTS:
            await page.fill("#accent", accent)
            await page.locator("#accent").dispatch_event("change")
            await audit(page, f"{name}-branding-{accent[1:]}", shot=False)
        light = page.locator("[data-light]")
        assert await light.is_visible(), "#ffdd00 is light: the editor says so"
        await page.fill("#title_fr", "Des questions")
        await page.locator("button[value=save]").click()
        await page.wait_for_function(FOCUSED_SUMMARY, timeout=5000)
        assert await page.get_attribute("#body_fr", "aria-invalid") == "true"
        await reflow(page, f"{name}-branding-errors")
        await page.goto(f"{base}/portal/branding")
        await page.set_input_files(
            "#logo", files=[{"name": "logo.svg", "mimeType": "image/svg+xml", "buffer": SVG}]
        )
        await page.get_by_role("button", name=w["upload"]).click()
        assert await page.get_by_role("alert").count() == 1
        await reflow(page, f"{name}-logo-error")

        await page.evaluate(
            "document.querySelectorAll('input[name=csrf]').forEach(i => i.value = 'x')"
        )
        await page.locator("button[value=save]").click()
        await reflow(page, f"{name}-forbidden")
    finally:
        await context.close()


async def test_rejected_push_notes_are_french_in_the_browser(
    browser: Any, live_server: LiveServer
) -> None:
    """The French company page shows a rejected push's notes and a warning in French."""
    email, password, company = tenant_with_activity(live_server)
    context, page = await _new_page(browser, "fr")
    try:
        await page.goto(f"{live_server.url}/portal/sign-in?lang=fr")
        await page.fill("#email", email)
        await page.fill("#password", password)
        await page.get_by_role("button", name="Ouvrir une session").click()
        await page.wait_for_url("**/portal/companies")
        await page.goto(f"{live_server.url}/portal/companies/{company['id']}")
        rejected = await page.get_by_role("table", name="Transmissions refusées").inner_text()
        assert "Compensée le" in rejected and "cleared on" not in rejected
        push = await page.get_by_role("table", name="Transmissions", exact=True).inner_text()
        assert "Crédit dont le montant est négatif" in push
    finally:
        await context.close()
