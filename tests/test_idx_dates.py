"""The IDX date rule through the running service and the settable clock (SPEC §5, docs/IDX.md).

At an evening instant (02:30 UTC: 21:30 in Toronto), on both DST change-over nights, and over
Hypothesis' zones and hours: the Update's own pull ending tomorrow (the company's zone) shows
what it just sent; pulls ending tomorrow in UTC, Pacific and Eastern dates show everything sent;
consecutive one-day windows return each transaction once.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import clock
from tests.helpers.builders import v1_account
from tests.helpers.clients import Linkable
from tests.helpers.feeds import Feed, connect, tx

CALLERS = {
    "UTC": ZoneInfo("UTC"),
    "Pacific": ZoneInfo("America/Los_Angeles"),
    "Eastern": ZoneInfo("America/New_York"),
}


async def new_feed(linkable: Linkable, zone: str, at: datetime) -> Feed:
    """A fresh account of a company in `zone`, connected by QuickBooks at `at`."""
    r = await linkable.api.call(
        "PUT",
        f"/companies/{linkable.company['id']}",
        {"name": linkable.company["name"], "timeZone": zone},
    )
    assert r.status_code == 200, r.text
    name = f"acc-{secrets.token_hex(4)}"
    r = await linkable.api.call("POST", linkable.accounts_path, v1_account(name, accountName=name))
    assert r.status_code == 200, r.text
    return await connect(linkable, at=at, name_of=name)


async def ids(feed: Feed, start: date | None, end: date) -> list[str]:
    r = await feed.pull(start.isoformat() if start else None, end.isoformat())
    assert r.status_code == 200, r.text
    return [t["transactionDescription"].removeprefix("Purchase ") for t in r.json()["results"]]


async def push_at(feed: Feed, at: datetime, zone: ZoneInfo, tid: str) -> None:
    clock.freeze(at)
    r = await feed.push([tx(tid, at.astimezone(zone).date().isoformat())])
    assert r.status_code == 200, r.text


async def check_evening(linkable: Linkable, zone_name: str, now: datetime) -> None:
    zone = ZoneInfo(zone_name)
    feed = await new_feed(linkable, zone_name, now - timedelta(days=2))
    # Sent earlier: by an Update a day and a half ago, and by the daily send's hour this morning.
    early = now - timedelta(days=1, hours=12)
    await push_at(feed, early, zone, "early")
    assert "early" in await ids(feed, None, early.astimezone(zone).date() + timedelta(days=1))
    morning = now - timedelta(hours=14)
    await push_at(feed, morning, zone, "morning")
    assert "morning" in await ids(feed, None, morning.astimezone(zone).date() + timedelta(days=1))

    # The Update at `now`: its own pull, ending tomorrow in the company's zone, shows it.
    await push_at(feed, now, zone, "evening")
    tomorrow = now.astimezone(zone).date() + timedelta(days=1)
    assert sorted(await ids(feed, None, tomorrow)) == ["early", "evening", "morning"]

    # Tomorrow in UTC, Pacific and Eastern dates: everything sent.
    for caller in CALLERS.values():
        caller_tomorrow = now.astimezone(caller).date() + timedelta(days=1)
        start = early.astimezone(caller).date() - timedelta(days=1)
        got = await ids(feed, start, caller_tomorrow)
        assert sorted(got) == ["early", "evening", "morning"], caller

        # Consecutive one-day windows up to tomorrow: each once.
        seen: list[str] = []
        day = start
        while day < caller_tomorrow:
            seen += await ids(feed, day, day + timedelta(days=1))
            day += timedelta(days=1)
        assert sorted(seen) == ["early", "evening", "morning"], caller


# 02:30 UTC: 21:30 in Toronto (EST), and both DST change-over nights of 2026 (US and Canada:
# 8 March, 1 November).
EVENINGS = [
    datetime(2026, 12, 6, 2, 30, tzinfo=UTC),
    datetime(2026, 3, 9, 2, 30, tzinfo=UTC),
    datetime(2026, 11, 2, 2, 30, tzinfo=UTC),
]


@pytest.mark.parametrize("now", EVENINGS, ids=lambda d: d.date().isoformat())
async def test_evening_pull_shows_what_update_sent(linkable: Linkable, now: datetime) -> None:
    try:
        await check_evening(linkable, "America/Toronto", now)
    finally:
        clock.reset()


ZONES = [
    "America/Toronto",
    "America/Vancouver",
    "America/St_Johns",
    "America/Halifax",
    "Pacific/Honolulu",
    "Pacific/Kiritimati",
    "Europe/Paris",
]
DST_DAYS = [date(2026, 3, 8), date(2026, 11, 1), date(2026, 3, 29), date(2026, 10, 25)]


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    zone=st.sampled_from(ZONES),
    day=st.one_of(st.sampled_from(DST_DAYS), st.dates(date(2026, 1, 10), date(2026, 12, 20))),
    minute=st.integers(min_value=0, max_value=24 * 60 - 1),
)
async def test_any_zone_and_hour(linkable: Linkable, zone: str, day: date, minute: int) -> None:
    now = datetime.combine(day, datetime.min.time(), ZoneInfo(zone)) + timedelta(minutes=minute)
    try:
        await check_evening(linkable, zone, now.astimezone(UTC))
    finally:
        clock.reset()
