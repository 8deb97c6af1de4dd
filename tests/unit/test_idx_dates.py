"""The IDX date rule on its own (SPEC §5, docs/IDX.md): dates read Anywhere on Earth.

Properties over callers in every zone from UTC-12 to UTC+14, every hour of the day, the DST
change-over days of the US and Canada (March and November), sends at window edges and chained
windows: "up to tomorrow" holds everything sent so far (the pull's own Update included), and
consecutive windows return each sent transaction exactly once. The same rule through the
running service: tests/test_idx_dates.py.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from app.devtools.quickbooks import PACIFIC
from app.idx.service import bound, date_starts_at

ZONES: list[tzinfo] = [
    ZoneInfo(name)
    for name in (
        "UTC",
        "America/Los_Angeles",
        "America/Vancouver",
        "America/Toronto",
        "America/New_York",
        "America/Halifax",
        "America/St_Johns",
        "Pacific/Honolulu",
        "Pacific/Kiritimati",
        "Pacific/Auckland",
        "Pacific/Pago_Pago",
        "Asia/Kolkata",
        "Australia/Eucla",
        "Europe/Paris",
    )
] + [timezone(timedelta(hours=-12)), timezone(timedelta(hours=14))]

# DST change-over days (second Sunday of March, first Sunday of November) of the US and Canada,
# the days either side of them, and any other day.
DST_DAYS = [
    date(2025, 3, 9),
    date(2025, 11, 2),
    date(2026, 3, 8),
    date(2026, 11, 1),
    date(2027, 3, 14),
    date(2027, 11, 7),
]
DAYS = st.one_of(
    st.builds(
        lambda d, k: d + timedelta(days=k),
        st.sampled_from(DST_DAYS),
        st.integers(min_value=-1, max_value=1),
    ),
    st.dates(min_value=date(2025, 1, 1), max_value=date(2028, 12, 31)),
)
MOMENTS = st.builds(
    lambda zone, day, minute, second: (
        datetime.combine(day, datetime.min.time(), zone) + timedelta(minutes=minute, seconds=second)
    ),
    st.sampled_from(ZONES),
    DAYS,
    st.integers(min_value=0, max_value=24 * 60 - 1),
    st.integers(min_value=0, max_value=59),
)


def local_date(at: datetime, zone: tzinfo) -> date:
    return at.astimezone(zone).date()


def day_before(at: datetime, zone: tzinfo) -> date:
    """The start date that surely holds `at` for a caller in `zone`: the day before its local
    date, two days before east of UTC+12 (a date starts there up to 26 hours before it does
    Anywhere on Earth)."""
    offset = at.astimezone(zone).utcoffset() or timedelta(0)
    return local_date(at, zone) - timedelta(days=2 if offset > timedelta(hours=12) else 1)


def in_window(at: datetime, start: date | None, end: date | None) -> bool:
    """What the service serves for [startDate, endDate): its bounds, as paging.page reads them."""
    low, high = bound(start), bound(end)
    return (low is None or low <= at) and (high is None or at < high)


def test_a_date_is_the_day_in_utc_minus_12() -> None:
    assert date_starts_at(date(2026, 12, 5)) == datetime(2026, 12, 5, 12, tzinfo=UTC)
    aoe = timezone(timedelta(hours=-12))
    assert date_starts_at(date(2026, 12, 5)) == datetime(2026, 12, 5, tzinfo=aoe)
    # A date-time is taken as given (UTC when it names no zone).
    assert bound(datetime(2026, 12, 5, 3, 4)) == datetime(2026, 12, 5, 3, 4, tzinfo=UTC)
    assert bound(None) is None


@settings(max_examples=600, deadline=None)
@given(now=MOMENTS, caller=st.sampled_from(ZONES), back=st.integers(0, 3 * 24 * 3600))
def test_tomorrow_anywhere_includes_everything_sent(
    now: datetime, caller: tzinfo, back: int
) -> None:
    """A caller in any zone who asks up to its tomorrow gets a send of `back` seconds ago, and
    the pull's own Update (sent at `now`); from a start a day before the send's date there."""
    assert day_before(now, PACIFIC) == local_date(now, PACIFIC) - timedelta(days=1)
    sent = now - timedelta(seconds=back)
    tomorrow = local_date(now, caller) + timedelta(days=1)
    start = day_before(sent, caller)
    assert in_window(now, None, tomorrow), "the pull's own Update is in its answer"
    assert in_window(now, start, tomorrow)
    assert in_window(sent, start, tomorrow)
    # Pacific dates, as the QuickBooks stand-in asks.
    assert in_window(now, None, local_date(now, PACIFIC) + timedelta(days=1))


@settings(max_examples=600, deadline=None)
@given(
    caller=st.sampled_from(ZONES),
    first=DAYS,
    days=st.integers(min_value=1, max_value=10),
    edge=st.sampled_from([timedelta(seconds=-1), timedelta(0), timedelta(microseconds=1)]),
    pick=st.integers(min_value=0, max_value=11),
    jitter=st.integers(min_value=-36 * 3600, max_value=36 * 3600),
)
def test_chained_windows_serve_each_send_once(
    caller: tzinfo, first: date, days: int, edge: timedelta, pick: int, jitter: int
) -> None:
    """Consecutive windows [d0,d1), [d1,d2), …: a send at (or a hair from) any window edge, or
    anywhere around them, is served by exactly one window when the chain covers it, else none."""
    dates = [first + timedelta(days=k) for k in range(days + 1)]
    sends = [
        date_starts_at(dates[min(pick, days)]) + edge,
        date_starts_at(dates[min(pick, days)]) + timedelta(seconds=jitter),
    ]
    for at in sends:
        hits = sum(in_window(at, a, b) for a, b in pairwise(dates))
        covered = in_window(at, dates[0], dates[-1])
        assert hits == (1 if covered else 0)


@settings(max_examples=300, deadline=None)
@given(now=MOMENTS, caller=st.sampled_from(ZONES))
def test_nightly_chain_never_misses(now: datetime, caller: tzinfo) -> None:
    """A caller that asks up to tomorrow each night, from the day before its last night's date
    (as the QuickBooks stand-in does in Pacific dates), misses nothing sent between two nights
    (a day and an hour apart)."""
    previous = now - timedelta(days=1, hours=1)
    start = day_before(previous, caller)
    for back in range(0, 25 * 3600 + 1, 900):
        sent = now - timedelta(seconds=back)
        if sent < previous:
            break
        assert in_window(sent, start, local_date(now, caller) + timedelta(days=1))
