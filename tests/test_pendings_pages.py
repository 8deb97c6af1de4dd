"""What people see of holds: the portal's account page and feed health, the Link page (EN, FR)."""

from __future__ import annotations

from datetime import timedelta

import httpx

from app import clock
from tests.helpers.clients import Api, Linkable, csrf_of
from tests.helpers.feeds import NOW, connect, day, tx
from tests.helpers.link import link_url, open_link
from tests.helpers.pendings import hold, post_holds
from tests.helpers.portal import Staff


async def test_the_portal_shows_holds_links_and_old_holds(
    signed_in: Staff,
    linkable: Linkable,
) -> None:
    feed = await connect(linkable)
    await post_holds(
        feed,
        [hold("old-h", day(-9), "-12.00"), hold("tip-h", day(-1), "-50.00"), hold("new-h", day(0))],
    )
    await feed.push([tx("tip-c", day(0), "-59.50", pendingTransactionId="tip-h")])
    company = linkable.company["id"]
    page = (await signed_in.get(f"/portal/companies/{company}/accounts/{feed.idx_account_id}")).text
    assert "Holds" in page and "Total on hold" in page
    assert "$62.00" in page, "two held: 12.00 + 50.00"
    assert "older than 7 days" in page
    assert "tip-c" in page and "$9.50" in page, "the link and its difference"
    health = (await signed_in.get("/portal/feed-health")).text
    assert "Holds older than 7 days" in health and "#holds" in health
    clock.freeze(NOW + timedelta(days=1))
    await feed.api.call(
        "POST",
        f"{feed.link.connection_path}/push/bankAccounts/{feed.account_id}"
        "/pendingTransactions/old-h/release",
        {"reason": "voided"},
    )
    health = (await signed_in.get("/portal/feed-health")).text
    assert "No hold is older than 7 days." in health


async def test_the_link_page_says_how_much_is_on_hold(client: httpx.AsyncClient, api: Api) -> None:
    url, company, connection = await link_url(api, balance=1234.56, currency="CAD")
    path = (
        f"/companies/{company['id']}/connections/{connection['id']}/push/bankAccounts/chk-1"
        "/pendingTransactions"
    )
    clock.freeze(NOW)
    today = day(0)
    r = await api.call(
        "POST",
        path,
        {
            "accountId": "chk-1",
            "transactions": [hold("h1", today, "-1200.00"), hold("h2", today, "-34.56")],
        },
    )
    assert r.status_code == 201, r.text
    await open_link(client, url, **{"Accept-Language": "en-US"})
    setup = await client.get("/link/setup")
    assert "CA$1,234.56 is on hold on Business Checking" in setup.text
    assert "QuickBooks will show it once it clears." in setup.text
    token = csrf_of(setup.text)
    await client.post("/link/language", data={"csrf": token, "lang": "fr", "back": "setup"})
    setup = await client.get("/link/setup")
    assert "1\xa0234,56\xa0$\xa0CA est retenu sur Business Checking" in setup.text
