"""The portal's feed health: accounts at risk first, the pull-lag chart, an account's delivery
states and last pulls, and re-serve with its confirmation step (in both languages)."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import clock
from app.accounts.jobs import detect_stale_feeds
from app.config import Settings
from app.idx.tables import Reserve
from tests.helpers.clients import Linkable
from tests.helpers.feeds import NOW, connect, day, tx
from tests.helpers.portal import Staff


async def test_feed_health_lists_stale_first_and_draws_the_lag(
    signed_in: Staff,
    linkable: Linkable,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    savings = await connect(linkable, at=NOW - timedelta(days=3), name_of="Savings")
    checking = await connect(linkable, at=NOW - timedelta(days=1))
    clock.freeze(NOW)
    await checking.pull()  # 24 h after its previous pull
    await detect_stale_feeds(sessions, settings)

    page = await signed_in.get("/portal/feed-health")
    assert page.status_code == 200
    text = page.text
    assert text.index("Savings") < text.index("Business Checking"), "stale first"
    assert 'class="badge stale"' in text and 'class="badge healthy"' in text
    assert "<svg" in text
    # The chart's numbers as a table: on 2026-03-10, one pull 24 h after the one before.
    assert re.search(
        r'<th scope="row" class="nowrap">March 10, 2026</th><td class="num">24</td>'
        r'<td class="num">24</td>',
        text,
    )
    assert savings.account_id == "sav-2"

    await signed_in.post("/portal/preferences", {"lang": "fr", "back": "/portal/feed-health"})
    french = (await signed_in.get("/portal/feed-health")).text
    assert "Santé des flux" in french and "en retard" in french


async def test_account_shows_delivery_and_pulls_and_reserve_confirms_first(
    signed_in: Staff,
    linkable: Linkable,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    feed = await connect(linkable)
    await feed.push(
        [tx("p1", day(0), counterparty="Hydro Québec", reference="INV-7"), tx("p2", day(0))]
    )
    clock.freeze(NOW + timedelta(minutes=5))
    await feed.pull(day(0), day(1))  # Update: sent and delivered
    company = linkable.company["id"]
    account = f"/portal/companies/{company}/accounts/{feed.idx_account_id}"
    page = (await signed_in.get(account)).text
    assert 'class="badge delivered"' in page
    assert '<th scope="col">Payee</th>' in page and "Hydro Québec" in page and "INV-7" in page
    assert "Last pulls by QuickBooks" in page and (
        '2026-03-10</span> \u2013 <span class="nowrap">2026-03-11' in page  # never split
    )
    rows = list(
        csv.DictReader(
            io.StringIO(
                (await signed_in.get(f"{account}/transactions.csv", state="delivered")).text
            )
        )
    )
    assert {r["transactionId"] for r in rows} == {"p1", "p2"}
    by_id = {r["transactionId"]: r for r in rows}
    assert (by_id["p1"]["payee"], by_id["p1"]["reference"]) == ("Hydro Québec", "INV-7")
    assert (by_id["p2"]["payee"], by_id["p2"]["reference"]) == ("", "")
    assert {r["status"] for r in rows} == {"delivered"}
    assert rows[0]["deliveredOnUtc"].startswith("2026-03-10T15:05")

    clock.freeze(NOW + timedelta(days=1))
    review = await signed_in.post(f"{account}/reserve", {"from": day(0), "to": day(0)})
    assert review.status_code == 200
    assert (
        "2 sent transactions cleared on" in review.text
        and 'name="confirm" value="yes"' in review.text
    )
    async with sessions() as session:
        stmt = select(Reserve).where(Reserve.account_pk == uuid.UUID(feed.idx_account_id))
        assert (await session.execute(stmt)).first() is None, "nothing done before confirming"

    forged = await signed_in.http.post(
        f"{account}/reserve",
        data={"csrf": "forged", "from": day(0), "to": day(0), "confirm": "yes"},
    )
    assert forged.status_code == 403
    done = await signed_in.post(
        f"{account}/reserve", {"from": day(0), "to": day(0), "confirm": "yes"}
    )
    assert "2 transactions published again" in done.text
    async with sessions() as session:
        audit = (await session.execute(stmt)).scalar_one()
    assert (audit.actor, audit.rows) == (signed_in.email, 2)
    after = (await signed_in.get(account)).text
    assert signed_in.email in after, "the re-serve is listed with who asked"

    bad = await signed_in.post(f"{account}/reserve", {"from": day(1), "to": day(0)})
    assert bad.status_code == 400 and 'role="alert"' in bad.text
