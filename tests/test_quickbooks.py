"""The QuickBooks stand-in's Intuit habits, and `sandbox qbo run` driving it over simulated days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from app import clock
from app.config import Settings
from app.devtools.quickbooks import QuickBooks, nightly_after, retry_times
from app.devtools.simulate import simulate
from tests.feeds import NOW, connect, day, tx
from tests.helpers import Linkable


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        # 22:00 Pacific is 06:00 UTC in winter (PST), 05:00 UTC in summer (PDT).
        (datetime(2026, 1, 5, 12, tzinfo=UTC), datetime(2026, 1, 6, 6, tzinfo=UTC)),
        (datetime(2026, 1, 6, 6, tzinfo=UTC), datetime(2026, 1, 6, 6, tzinfo=UTC)),
        (datetime(2026, 7, 1, 6, tzinfo=UTC), datetime(2026, 7, 2, 5, tzinfo=UTC)),
    ],
)
def test_the_nightly_download_is_at_22_pacific(moment: datetime, expected: datetime) -> None:
    assert nightly_after(moment) == expected


def test_five_retries_over_five_hours() -> None:
    first = datetime(2026, 1, 6, 6, tzinfo=UTC)
    times = retry_times(first)
    assert len(times) == 5 and times[-1] - first == timedelta(hours=5)


async def test_update_asks_90_days_pages_of_5000_and_books_each_id_once(
    linkable: Linkable, client: httpx.AsyncClient
) -> None:
    feed = await connect(linkable)
    await feed.push([tx("q1", day(0)), tx("q2", day(0))])
    clock.freeze(NOW + timedelta(hours=1))
    asked: list[httpx.QueryParams] = []

    async def spy(request: httpx.Request) -> None:
        asked.append(request.url.params)

    client.event_hooks["request"].append(spy)
    idx = linkable.idx
    qbo = QuickBooks(client, idx.username, idx.password, idx.partner_key)
    listed = [a for a in await qbo.listed() if a["id"] == feed.idx_account_id]
    await qbo.link(listed, NOW.date() - timedelta(days=3))
    account = qbo.accounts[feed.idx_account_id]
    assert len(account.ledger) == 2
    booked = await qbo.update(account)
    assert booked == [], "served again, booked once"
    assert len(account.ledger) == 2 and account.received == 4
    update = asked[-1]
    assert update["startDate"] == (NOW.date() - timedelta(days=90)).isoformat()
    assert update["endDate"] == (NOW.date() + timedelta(days=1)).isoformat()
    assert update["pageSize"] == "5000"


async def test_run_mode_drives_the_days_through_the_clock(
    linkable: Linkable, settings: Settings
) -> None:
    feed = await connect(linkable)
    await feed.push([tx("s1", day(0))])
    idx = linkable.idx
    lines = await simulate(
        (idx.username, idx.password, idx.partner_key), date(2026, 3, 10), 2, settings
    )
    assert lines[0] == "2026-03-10: linked 2 account(s)"
    # Day 1: the 05:00 send publishes s1 (unless the link's first download took it already);
    # the nightly at 22:00 Pacific books it; day 2 has nothing new.
    assert lines[1].startswith("2026-03-11: sent ")
    assert lines[2] == "2026-03-12: sent 0, nightly booked 0"
    listed = (await feed.api.call("GET", f"{feed.account_path}/bankTransactions")).json()
    assert listed["results"][0]["status"] == "delivered"
