"""The month in a few minutes (bench/soak.py): 30 simulated days over 330 accounts, with its
faults, invariants checked every simulated day. It runs when BANKFEEDS_SOAK=1 (CI's
PostgreSQL round sets it; marked `soak` for `-m soak`), on a throwaway PostgreSQL cluster of its own."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from bench.soak import month, soak_settings
from tests.faults import ThrowawayPostgres

pytestmark = [
    pytest.mark.soak,
    pytest.mark.configured(
        bool(os.environ.get("BANKFEEDS_SOAK")),
        "the simulated month: BANKFEEDS_SOAK=1 (CI's PostgreSQL round)",
    ),
]

DAYS = int(os.environ.get("BANKFEEDS_SOAK_DAYS", "30"))


def test_a_month_of_quickbooks_loses_and_duplicates_nothing(redis_url: str, tmp_path: Path) -> None:
    pg = ThrowawayPostgres()
    pg.start()
    try:
        settings = soak_settings(pg.url, redis_url, tmp_path)
        report = asyncio.run(month(settings, pg, days=DAYS))
    finally:
        pg.remove()
    print("\n" + report.table())
    assert report.accounts >= 300 and report.tenants >= 3
    assert (report.duplicates, report.lost, report.rejected_in_ledger) == (0, 0, 0)
    assert report.status_mismatches == 0
    assert report.pushes_rejected > 0 and report.refused_during_outage > 0
    assert report.retries_that_worked > 0, "the nightly retry after the outage brought the data"
    assert report.faults["daily send killed mid-way"] == 2
    assert 0 < report.sent <= report.accepted
