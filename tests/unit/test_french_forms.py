"""The French forms issue 33 asked for, table-driven: date ranges in words and the North
American time zones' French abbreviations."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from app.i18n import date_range, when

NB = "\u00a0"
ACROSS_YEARS = f"du 30{NB}décembre 2025 au 1er{NB}janvier 2026"


@pytest.mark.parametrize(
    ("first", "last", "language", "said"),
    [
        (date(2026, 12, 1), date(2026, 12, 6), "fr", f"du 1er au 6{NB}décembre 2026"),
        (date(2026, 11, 28), date(2026, 12, 6), "fr", f"du 28{NB}novembre au 6{NB}décembre 2026"),
        (date(2025, 12, 30), date(2026, 1, 1), "fr", ACROSS_YEARS),
        (date(2026, 12, 6), date(2026, 12, 6), "fr", f"le 6{NB}décembre 2026"),
        (date(2026, 12, 1), date(2026, 12, 6), "en", "from December 1 to 6, 2026"),
        (date(2026, 11, 28), date(2026, 12, 6), "en", "from November 28 to December 6, 2026"),
        (date(2026, 12, 6), date(2026, 12, 6), "en", "on December 6, 2026"),
    ],
)  # fmt: skip
def test_date_ranges_in_words(first: date, last: date, language: str, said: str) -> None:
    assert date_range(first, last, language) == said


@pytest.mark.parametrize(
    ("zone", "month", "en", "fr"),
    [
        ("America/Toronto", 12, "EST", "HNE"),
        ("America/Toronto", 7, "EDT", "HAE"),
        ("America/Winnipeg", 12, "CST", "HNC"),
        ("America/Edmonton", 7, "MDT", "HAR"),
        ("America/Vancouver", 12, "PST", "HNP"),
        ("America/Halifax", 7, "ADT", "HAA"),
        ("America/St_Johns", 12, "NST", "HNT"),
    ],
)
def test_time_zones_are_named_in_french(zone: str, month: int, en: str, fr: str) -> None:
    moment = datetime(2026, month, 6, 18, 58, tzinfo=UTC)
    assert when(moment, "en", zone).endswith(f"{NB}{en}") or f"{NB}{en}," in when(
        moment, "en", zone
    )
    french = when(moment, "fr", zone)
    assert f"{NB}{fr}" in french and en not in french
