"""The portal's calendar of balance certificates, in both languages: each day's status in
words (readable without colour), the first gap highlighted with its lines and what to do."""

from __future__ import annotations

from datetime import timedelta

from app import clock
from tests.helpers.certificates import line
from tests.helpers.clients import Linkable
from tests.helpers.feeds import NOW, connect, day
from tests.helpers.portal import Staff


async def test_the_calendar_names_each_day_and_shows_the_first_gap(
    signed_in: Staff,
    linkable: Linkable,
) -> None:
    feed = await connect(linkable)
    await feed.push([line("a1", day(-2), "50.00", "1050.00")])
    await feed.push(
        [line("b1", day(-1), "-10.00", "1040.00"), line("b3", day(-1), "-15.00", "1020.00")]
    )
    clock.freeze(NOW + timedelta(hours=1))
    assert (await feed.pull(day(-7), day(1))).status_code == 200
    account = f"/portal/companies/{linkable.company['id']}/accounts/{feed.idx_account_id}"
    assert f"{account}/certificates" in (await signed_in.get(account)).text
    page = await signed_in.get(f"{account}/certificates")
    assert page.status_code == 200
    text = page.text
    assert "First gap: March 9, 2026" in text
    assert "breaks at line b3: a line of -US$5.00 is probably missing" in text
    assert '<tr class="break">' in text and "(breaks here)" in text
    assert "Certified: 1</li>" in text and "Gap: 1</li>" in text and "Unknown: 0</li>" in text
    assert text.count('<td class="certified">') == 1, "day 1"
    assert text.count("✓</span> Certified\n") == 1, "in words beside its symbol"
    assert text.count('<td class="gap first">') == 1, "day 2, the first gap, highlighted"
    assert "re-serve the day" in text

    await signed_in.post("/portal/preferences", {"lang": "fr", "back": f"{account}/certificates"})
    french = (await signed_in.get(f"{account}/certificates")).text
    assert "Certificats de solde" in french and "Premier écart" in french
    assert "✓</span> Certifié\n" in french and "Écart" in french


async def test_the_calendar_is_another_tenants_404(
    signed_in: Staff,
    other_api: object,
    linkable: Linkable,
) -> None:
    feed = await connect(linkable)
    page = await signed_in.get(
        f"/portal/companies/{linkable.company['id']}/accounts/{feed.idx_account_id}/certificates"
    )
    assert page.status_code == 200
    missing = await signed_in.get(
        f"/portal/companies/{linkable.company['id']}/accounts/00000000-0000-0000-0000-000000000000/certificates"
    )
    assert missing.status_code == 404
