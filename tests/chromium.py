"""Debian's headless Chromium driven by Playwright, and an axe-core audit with a screenshot.

Playwright cannot download its own browser here; it launches /usr/bin/chromium instead. Missing
browser or axe-core: the tests skip, or fail when BANKFEEDS_REQUIRE_BROWSER is set (as in CI).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
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


def _require() -> None:
    missing = [str(p) for p in (CHROMIUM, AXE) if not p.exists()]
    if missing:
        message = f"browser tests need {', '.join(missing)} (see README: Development)"
        if os.environ.get("BANKFEEDS_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    _require()
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        instance = await pw.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield instance
        await instance.close()


async def audit(page: Any, name: str) -> None:
    """Screenshot the page and fail on any serious or critical axe-core violation."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    await page.add_script_tag(path=str(AXE))
    violations = await page.evaluate(
        "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations"
        ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
        ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', ')))"
    )
    assert violations == [], f"{name}: {violations}"
