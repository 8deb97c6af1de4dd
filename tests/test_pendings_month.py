"""A simulated month of card traffic through the client API, the worker's jobs and the QuickBooks
stand-in: 70 % of holds settle at the same amount (half by the same id, half matched
automatically), 15 % with a tip and 5 % with an FX drift (named by pendingTransactionId), 5 % are
released and 5 % never post (they expire). Invariant: QuickBooks' ledger is exactly the cleared
lines (each once, no hold) and its sum is theirs."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx

from app import clock
from app.devtools.quickbooks import QuickBooks
from app.idx.service import intuit_transaction_id
from app.kit.services import Services
from app.transactions.jobs import send_all
from tests.feeds import NOW, connect
from tests.helpers import Linkable
from tests.pendings import add_card, pending, pendings_path, post_holds, run_expiry, set_matching

DAYS = 30
HOLDS_PER_DAY = 6
KINDS = ["same"] * 70 + ["tip"] * 15 + ["fx"] * 5 + ["released"] * 5 + ["never"] * 5


async def test_a_month_of_card_traffic(
    linkable: Linkable, services: Services, client: httpx.AsyncClient
) -> None:
    await add_card(linkable)
    feed = await connect(linkable, name_of="Business Card")
    await set_matching(feed, "auto")
    idx = linkable.idx
    qbo = QuickBooks(client, idx.username, idx.password, idx.partner_key)
    listed = [a for a in await qbo.listed() if a["id"] == feed.idx_account_id]
    await qbo.link(listed, NOW.date() - timedelta(days=3))
    account = qbo.accounts[feed.idx_account_id]
    rng = random.Random(20261206)
    waiting: list[dict[str, Any]] = []  # holds not settled yet
    cleared: dict[str, Decimal] = {}
    expected: dict[str, str] = {}  # hold id -> its final state
    authorized: dict[str, str] = {}  # cleared id -> the date QuickBooks should show
    serial = 0
    for day in range(DAYS):
        clock.freeze(NOW + timedelta(days=day))
        today = clock.now().date()
        holds = []
        for _ in range(HOLDS_PER_DAY):
            serial += 1
            kind = rng.choice(KINDS)
            amount = -(Decimal(10) + Decimal(serial) * Decimal("0.37"))  # unique amounts
            hold = {
                "id": f"h{serial}",
                "authorizedDate": today.isoformat(),
                "amount": str(amount),
                "description": f"Merchant {serial}",
            }
            if kind == "never":
                hold["expiresOn"] = (today + timedelta(days=5)).isoformat()
            holds.append(hold)
            waiting.append({**hold, "kind": kind, "settle": day + rng.randint(1, 3)})
        assert (await post_holds(feed, holds)).status_code == 201
        items = []
        for h in [w for w in waiting if w["settle"] == day]:
            waiting.remove(h)
            kind, pid, amount = h["kind"], h["id"], Decimal(h["amount"])
            if kind == "released":
                r = await feed.api.call(
                    "POST", f"{pendings_path(feed)}/{pid}/release", {"reason": "voided"}
                )
                assert r.status_code == 200, r.text
                expected[pid] = "released"
                continue
            if kind == "never":
                expected[pid] = "expired"
                continue
            item: dict[str, Any] = {"date": today.isoformat(), "description": h["description"]}
            if kind == "same" and rng.random() < 0.5:
                item.update(id=pid, amount=str(amount))
            elif kind == "same":
                item.update(id=f"c{pid}", amount=str(amount))
            else:
                drift = Decimal("1.18") if kind == "tip" else Decimal("1.013")
                item.update(
                    id=f"c{pid}",
                    amount=str((amount * drift).quantize(Decimal("0.01"))),
                    pendingTransactionId=pid,
                )
            items.append(item)
            cleared[item["id"]] = Decimal(item["amount"])
            authorized[item["id"]] = h["authorizedDate"]
            expected[pid] = "posted"
        if items:
            r = await feed.push(items)
            assert r.status_code == 200, r.text
        # Overnight: the daily send, the expiry job, QuickBooks' nightly download.
        clock.freeze(NOW + timedelta(days=day, hours=14))
        await send_all(services.sessions, 50)
        await run_expiry(services)
        clock.freeze(NOW + timedelta(days=day, hours=15, minutes=30))
        await qbo.nightly(account)
    await qbo.update(account)

    pk = uuid.UUID(feed.idx_account_id)
    wanted = {intuit_transaction_id(pk, tid): tid for tid in cleared}
    assert set(account.ledger) == set(wanted), "the ledger is exactly the cleared lines"
    booked = sum(Decimal(row["amount"]["amount"]) for row in account.ledger.values())
    assert booked == sum(cleared.values())
    for wire_id, row in account.ledger.items():
        assert row["transactionDate"] == authorized[wanted[wire_id]]
    # A week on, the last holds that never post are past their expiresOn too.
    clock.freeze(NOW + timedelta(days=DAYS + 6))
    await run_expiry(services)
    for pid, state in expected.items():
        assert (await pending(feed, pid))["status"] == state, pid
    assert len(cleared) > 100 and "expired" in expected.values()
