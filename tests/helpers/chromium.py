"""Debian's headless Chromium driven by Playwright, and an axe-core audit with a screenshot.

Playwright cannot download its own browser here; it launches /usr/bin/chromium instead. Missing
browser or axe-core: the tests skip, or fail when BANKFEEDS_REQUIRE_BROWSER is set (as in CI).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("BANKFEEDS_CHROMIUM", "/usr/bin/chromium"))
AXE = ROOT / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "tests" / "artifacts" / "screenshots"
# The flags this machine needs (no sandbox as root, no background network calls).
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require() -> None:
    """Skip without the browser or axe-core; fail instead when CI asks for them."""
    missing = [str(p) for p in (CHROMIUM, AXE) if not p.exists()]
    if missing:
        message = f"browser tests need {', '.join(missing)} (see docs/DEVELOPMENT.md)"
        if os.environ.get("BANKFEEDS_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)


async def audit(page: Any, name: str, *, shot: bool = True) -> None:
    """Screenshot the page and fail on any axe-core violation, whatever its impact."""
    if shot:
        SHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    if not await page.evaluate("typeof axe !== 'undefined'"):
        await page.add_script_tag(path=str(AXE))
    violations = await page.evaluate(
        "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations"
        ".map(v => v.impact + ' ' + v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', ')))"
    )
    assert violations == [], f"{name}: {violations}"


# Widths every page is checked at: desktop, 200% zoom of a 1280 px window (the same CSS layout
# as 640 px), a phone, and WCAG 1.4.10's 320 px.
WIDTHS = {"1280": 1280, "zoom200": 640, "360": 360, "320": 320}

# Words whose letters sit on more than one line, and the page's horizontal overflow. A word is a
# run without ASCII white space, hyphen or slash (no-break spaces join "18 h 58" into one);
# ids (.mono, code) may break anywhere and are skipped, as are hidden texts.
LAYOUT = r"""() => {
  const broken = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode())) {
    const el = node.parentElement;
    if (!el || el.closest(".mono, code, .visually-hidden, script, style, svg, [hidden]")) continue;
    if (!el.getClientRects().length) continue;
    for (const m of node.textContent.matchAll(/[^ \t\n\r\-\/]+/g)) {
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const tops = new Set([...range.getClientRects()].filter((r) => r.width > 0)
        .map((r) => Math.round(r.top)));
      if (tops.size > 1) broken.push(m[0]);
    }
  }
  const root = document.documentElement;
  const wide = [...document.body.querySelectorAll("*")]
    .filter((e) => !e.closest(".table-scroll"))
    .filter((e) => e.getBoundingClientRect().right > root.clientWidth + 0.5)
    .map((e) => e.tagName + "." + e.className + "#" + e.id).slice(0, 5);
  return {overflow: root.scrollWidth - root.clientWidth, broken, wide};
}"""


async def reflow(page: Any, name: str, *, axe: bool = True) -> None:
    """At every width: no horizontal scroll, no word broken outside an id, axe finds nothing.
    A click that navigates returns once the new page is committed, perhaps before its body is
    parsed (seen on a loaded machine): the page is measured once it has loaded."""
    await page.wait_for_load_state("load")
    for label, width in WIDTHS.items():
        await page.set_viewport_size({"width": width, "height": 800})
        found = await page.evaluate(LAYOUT)
        assert found["overflow"] <= 0, (
            f"{name} at {label}: scrolls {found['overflow']} px sideways: {found['wide']}"
        )
        assert found["broken"] == [], f"{name} at {label}: words broken {found['broken']}"
        if axe:
            await audit(page, f"{name}-{label}", shot=label in ("1280", "320"))
    await page.set_viewport_size({"width": 1280, "height": 800})
