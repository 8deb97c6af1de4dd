"""Issue 33's page edges in real Chromium, audited by axe: a 60-character company name on the Link
landing page at 320 and 360 px, Link step 2's balances at 320 px, the re-serve errors tied to
their fields and met by keyboard, ISO dates kept whole in the portal's tables at 320-640 px, the
chart's labels legible at 360 px, and French time zone names."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.helpers.builders import v1_account, v2_account
from tests.helpers.chromium import audit, reflow
from tests.helpers.live import tenant_with_activity, tenant_with_feed
from tests.helpers.servers import LiveServer

LONG_NAME = "Établissements Rénovations Résidentielles Tremblay-Gagnon inc."
assert len(LONG_NAME) >= 60

# Each ISO date (2026-12-06) in visible text, and how many lines its letters sit on.
SPLIT_DATES = r"""() => {
  const split = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode())) {
    const el = node.parentElement;
    if (!el || el.closest(".visually-hidden, script, style, svg, [hidden]")) continue;
    if (!el.getClientRects().length) continue;
    for (const m of node.textContent.matchAll(/\d{4}-\d{2}-\d{2}/g)) {
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const tops = new Set([...range.getClientRects()].filter((r) => r.width > 0)
        .map((r) => Math.round(r.top)));
      if (tops.size > 1) split.push(m[0]);
    }
  }
  return split;
}"""

# The smallest rendered font size of the chart's words (in CSS px, as a person sees them).
CHART_TEXT = r"""() => {
  const sizes = [];
  for (const box of document.querySelectorAll(".chart-box")) {
    for (const el of box.querySelectorAll("text, .chart-legend li, .chart-axis span")) {
      const rect = el.getBoundingClientRect();
      if (!rect.height || !el.textContent.trim()) continue;
      let size = parseFloat(getComputedStyle(el).fontSize);
      const svg = el.closest("svg");
      if (svg && svg.viewBox.baseVal && svg.viewBox.baseVal.width) {
        size *= svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
      }
      sizes.push(size);
    }
  }
  return sizes.length ? Math.min(...sizes) : 0;
}"""


async def _page(browser: Any, language: str) -> tuple[Any, Any]:
    context = await browser.new_context(
        locale="fr-CA" if language == "fr" else "en-US", bypass_csp=True
    )
    return context, await context.new_page()


@pytest.mark.parametrize("language", ["en", "fr"])
async def test_a_long_company_name_and_balances_fit_a_phone(
    browser: Any, live_server: LiveServer, language: str
) -> None:
    _, _, http = tenant_with_feed(live_server)
    company = http.post("/companies", json={"name": LONG_NAME}).json()
    connection = http.post(
        f"/companies/{company['id']}/connections", json={"platformKey": "hcws"}
    ).json()
    accounts = (
        f"/companies/{company['id']}/connections/{connection['id']}"
        "/connectionInfo/bankFeedAccounts/batch"
    )
    wide = [
        v1_account("chk-1", accountName="Compte d'exploitation principal", balance=-9876543.21),
        v2_account("sav-2", balance=123456789.99),
    ]
    http.post(accounts, json=wide).raise_for_status()
    context, page = await _page(browser, language)
    try:
        await page.goto(connection["linkUrl"])
        assert LONG_NAME in await page.locator("h1").inner_text()
        await reflow(page, f"edges-landing-{language}")  # no sideways scroll at 320 and 360
        for width in (360, 320):
            await page.set_viewport_size({"width": width, "height": 800})
            box = await page.locator("h1").bounding_box()
            assert box is not None and box["x"] + box["width"] <= width, "the h1 wraps"
        await page.get_by_role("button", name="Commencer" if language == "fr" else "Start").click()
        await page.get_by_role("link", name="Suivant" if language == "fr" else "Next").click()
        await page.set_viewport_size({"width": 320, "height": 800})
        # Every balance is whole on screen: nothing clipped inside the table's scroll region.
        clipped = await page.evaluate(
            """() => [...document.querySelectorAll('.table-scroll')]
                 .map((r) => r.scrollWidth - r.clientWidth).filter((d) => d > 0)"""
        )
        assert clipped == [], f"the accounts table scrolls by {clipped} px at 320 px"
        for cell in await page.locator("td.num").all():
            right = await cell.evaluate("(c) => c.getBoundingClientRect().right")
            assert right <= 320, "a balance is cut off"
        await reflow(page, f"edges-setup-{language}")
    finally:
        await context.close()
        http.close()


@pytest.mark.parametrize("language", ["en", "fr"])
async def test_reserve_errors_dates_chart_and_zones_in_the_portal(
    browser: Any, live_server: LiveServer, language: str
) -> None:
    email, password, company = tenant_with_activity(live_server)
    context, page = await _page(browser, language)
    base = live_server.url
    try:
        await page.goto(f"{base}/portal/sign-in?lang={language}")
        await page.fill("#email", email)
        await page.fill("#password", password)
        await page.keyboard.press("Enter")
        await page.wait_for_url("**/portal/companies")
        await page.goto(f"{base}/portal/companies/{company['id']}")
        href = await page.locator("a[href*='/accounts/']").first.get_attribute("href")
        account = f"{base}{href}"
        await page.goto(account)

        # French pages name North American zones in French (HNE/HAE), never EST/EDT.
        text = await page.locator("main").inner_text()
        if language == "fr":
            assert re.search(r"\bH[NA]E\b", text), text
            assert not re.search(r"\bE[SD]T\b", text)
        else:
            assert re.search(r"\bE[SD]T\b", text)

        # Re-serve with From after To, by keyboard only: the form stays, with what was typed.
        await page.locator("#reserve-from").fill("2026-12-05")
        await page.locator("#reserve-to").fill("2026-12-01")
        await page.locator("#reserve-to").focus()
        await page.keyboard.press("Enter")
        await page.wait_for_function(
            "document.activeElement?.hasAttribute('data-error-summary')", timeout=5000
        )
        summary = page.locator("[data-error-summary]")
        assert await summary.get_attribute("role") == "alert"
        for field, typed in (("#reserve-from", "2026-12-05"), ("#reserve-to", "2026-12-01")):
            assert await page.locator(field).input_value() == typed, "nothing to retype"
            assert await page.get_attribute(field, "aria-invalid") == "true"
            described = await page.get_attribute(field, "aria-describedby") or ""
            message = page.locator(f"#{described.split()[0]}")
            assert await message.is_visible() and await message.inner_text()
        await page.keyboard.press("Tab")  # the summary's link to the field
        await page.keyboard.press("Enter")
        # A same-page link's navigation can land after the key press returns: wait for it.
        await page.wait_for_function("location.hash === '#reserve-from'", timeout=5000)
        assert page.url.endswith("#reserve-from")
        await audit(page, f"edges-reserve-error-{language}", shot=True)
        # Corrected by keyboard, then reviewed and confirmed: the re-serve is listed.
        await page.locator("#reserve-from").fill("2026-12-01")
        await page.locator("#reserve-to").fill("2026-12-05")
        await page.locator("#reserve-to").focus()
        await page.keyboard.press("Enter")
        confirm = "Confirmer la republication" if language == "fr" else "Confirm re-serve"
        await page.get_by_role("button", name=re.compile(confirm, re.I)).click()
        await page.goto(account)

        await page.locator("details summary").first.click()
        for width in (640, 480, 360, 320):
            await page.set_viewport_size({"width": width, "height": 800})
            split = await page.evaluate(SPLIT_DATES)
            assert split == [], f"ISO dates split at {width} px: {split}"
        await page.set_viewport_size({"width": 360, "height": 800})
        smallest = await page.evaluate(CHART_TEXT)
        assert smallest >= 10, f"the chart's smallest label is {smallest:.1f} px at 360 px"
        await reflow(page, f"edges-account-{language}")
        for path in ("/portal/feed-health", f"/portal/companies/{company['id']}"):
            await page.goto(f"{base}{path}")
            badges = [b.strip() for b in await page.locator(".badge").all_inner_texts()]
            assert badges and all(b[:1] == b[:1].upper() for b in badges), badges
            for width in (640, 360, 320):
                await page.set_viewport_size({"width": width, "height": 800})
                assert await page.evaluate(SPLIT_DATES) == [], (path, width)
    finally:
        await context.close()
