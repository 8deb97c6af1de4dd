"""The daily send SIGKILLed mid-run while holds and links are in flight (the expiry job queued in
the same worker): nothing lost, nothing sent twice, no link or hold lost, no hold published."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import transaction
from app.pendings.linking import served_dates
from app.pendings.tables import PendingLink, PendingTransaction
from app.transactions.tables import BankTransaction
from tests.helpers.clients import Api
from tests.helpers.faults import assert_sent_once, jobs_run, kill_workers_mid_send, pending_feed

# Relative to the real today: the worker processes read the real clock. The held ones are
# past the 14 days of a deposit account; none has ended long enough ago to be purged.
AUTHORIZED = datetime.now(UTC).date() - timedelta(days=20)


async def _holds(sessions: async_sessionmaker[AsyncSession], pks: list[uuid.UUID]) -> int:
    """Per account: t0..t4 linked to holds h0..h4 (before publication), h5..h7 still held."""
    now = datetime.now(UTC)
    rows, links = [], []
    for pk in pks:
        for i in range(8):
            rows.append(
                {
                    "pk": uuid.uuid4(),
                    "account_pk": pk,
                    "pending_id": f"h{i}",
                    "authorized_on": AUTHORIZED,
                    "amount": Decimal("-1.00"),
                    "description": "Hold",
                    "status": "posted" if i < 5 else "held",
                    "created_at": now,
                    "updated_at": now,
                    "ended_at": now if i < 5 else None,
                    "history": [],
                }
            )
            if i < 5:
                links.append(
                    {
                        "account_pk": pk,
                        "pending_id": f"h{i}",
                        "transaction_id": f"t{i}",
                        "state": "linked",
                        "matched_by": "pendingTransactionId",
                        "partial": False,
                        "cleared_amount": Decimal("-1.00"),
                        "amount_delta": Decimal("0.00"),
                        "serve_authorized_on": AUTHORIZED,
                        "created_at": now,
                        "linked_at": now,
                    }
                )
    async with transaction(sessions) as session:
        await session.execute(insert(PendingTransaction), rows)
        await session.execute(insert(PendingLink), links)
    return len(links)


async def test_sigkilled_sends_with_holds_and_links_in_flight(
    api: Api,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    send_log: str,
    tmp_path: Path,
) -> None:
    accounts = 150 if settings.database_url else 1500
    pks = await pending_feed(api, sessions, accounts=accounts, per_account=10)
    link_count = await _holds(sessions, pks)
    killed = await kill_workers_mid_send(
        settings,
        sessions,
        pks,
        tmp_path,
        rounds=8,
        seed=20261206,
        jobs=("expire_pendings", "daily_send"),
    )
    assert killed >= 4, "most rounds were cut off part-way"
    for job in ("daily-send", "expire-pendings"):
        await jobs_run(settings, job)
    await assert_sent_once(sessions, send_log, pks, accounts * 10)
    async with sessions() as session:
        links = (
            await session.execute(
                select(func.count()).where(
                    PendingLink.account_pk.in_(pks), PendingLink.state == "linked"
                )
            )
        ).scalar_one()
        statuses = dict(
            (
                await session.execute(
                    select(PendingTransaction.status, func.count())
                    .where(PendingTransaction.account_pk.in_(pks))
                    .group_by(PendingTransaction.status)
                )
            ).all()
        )
        published_holds = (
            await session.execute(
                select(func.count()).where(
                    BankTransaction.account_pk.in_(pks),
                    BankTransaction.transaction_id.like("h%"),
                )
            )
        ).scalar_one()
        dates = await served_dates(session, pks[0], [f"t{i}" for i in range(10)])
    assert links == link_count, "no link lost"
    # The holds still held (authorized in March, far more than 14 days before the real today)
    # expired, exactly once each; the linked ones stayed posted.
    assert statuses == {"posted": accounts * 5, "expired": accounts * 3}
    assert published_holds == 0
    assert dates == {f"t{i}": AUTHORIZED for i in range(5)}
