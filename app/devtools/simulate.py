"""`bankfeeds sandbox qbo run`: QuickBooks' days, simulated in-process through the settable
clock: the daily send, the nightly download (22:00 Pacific, retried hourly up to five times),
the ten-day and stale detections. The app runs on the configured database and Redis."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import httpx

from app import clock, migrate
from app.accounts.jobs import detect, detect_stale_feeds
from app.config import Settings, get_settings
from app.devtools.quickbooks import PullFailed, QuickBooks, nightly_after, retry_times
from app.main import create_app
from app.transactions.jobs import send_all


async def simulate(
    credentials: tuple[str, str, str], first: date, days: int, settings: Settings | None = None
) -> list[str]:
    settings = settings or get_settings()
    if settings.is_sqlite:
        await migrate.upgrade_async(settings)
    app = create_app(settings)
    out: list[str] = []
    async with app.router.lifespan_context(app):
        sessions = app.state.services.sessions
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http:
            qbo = QuickBooks(http, *credentials)
            clock.freeze(datetime.combine(first, time(12), UTC))
            try:
                listed = await qbo.listed()
                await qbo.link(listed, first - timedelta(days=7))
            except PullFailed as exc:
                clock.reset()
                return [f"cannot link: {exc}"]
            out.append(f"{first}: linked {len(listed)} account(s)")
            for n in range(1, days + 1):
                day = first + timedelta(days=n)
                clock.freeze(datetime.combine(day, time(5), UTC))
                sent = (await send_all(sessions, settings.send_chunk_accounts))["transactions"]
                booked, failures = 0, 0
                at = nightly_after(clock.now())
                for attempt in [at, *retry_times(at)]:
                    clock.freeze(attempt)
                    try:
                        for account in qbo.accounts.values():
                            booked += len(await qbo.nightly(account))
                        break
                    except PullFailed:
                        failures += 1
                await detect(sessions, settings)
                await detect_stale_feeds(sessions, settings)
                note = f", {failures} failed attempt(s)" if failures else ""
                out.append(f"{day}: sent {sent}, nightly booked {booked}{note}")
    clock.reset()
    return out
