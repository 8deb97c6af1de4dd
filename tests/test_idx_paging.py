"""IDX transaction pages: keyset inside (remembered last keys, batch totals), exactly the OFFSET
answers outside, through sends and re-serves between pages and pagers side by side."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import TypeAdapter
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import clock
from app.accounts.tables import SourceAccount
from app.config import Settings
from app.idx import schemas, service
from app.idx.paging import PageCursors
from app.idx.tables import IdxPull
from app.transactions.tables import BankTransaction, SentBatch
from tests.feeds import NOW, Feed, connect, day, tx
from tests.helpers import Linkable

START = datetime.fromisoformat(day(0)).replace(tzinfo=UTC)
END = START + timedelta(days=1)


async def expected(
    sessions: async_sessionmaker[AsyncSession], feed: Feed, page: int, size: int
) -> tuple[list[str], int]:
    """The answer by definition: count the window, skip with OFFSET."""
    pk = uuid.UUID(feed.idx_account_id)
    window = (
        BankTransaction.account_pk == pk,
        BankTransaction.sent_at >= START,
        BankTransaction.sent_at < END,
    )
    async with sessions() as session:
        rows = (
            await session.execute(
                select(BankTransaction.description)
                .where(*window)
                .order_by(BankTransaction.sent_at, BankTransaction.id)
            )
        ).scalars()
        every = list(rows)
    return every[(page - 1) * size : page * size], len(every)


async def fetch(feed: Feed, page: int, size: int) -> dict[str, Any]:
    path = f"/accounts/{feed.idx_account_id}/transactions"
    r = await feed.idx.get(path, startDate=day(0), endDate=day(1), page=page, pageSize=size)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def check(
    sessions: async_sessionmaker[AsyncSession], feed: Feed, page: int, size: int
) -> dict[str, Any]:
    body = await fetch(feed, page, size)
    rows, total = await expected(sessions, feed, page, size)
    assert [t["transactionDescription"] for t in body["results"]] == rows, f"page {page}"
    assert body["totalResults"] == total
    assert body["pageNumber"] == page
    return body


async def sent_feed(link: Linkable) -> Feed:
    """35 sent rows in today's window, in two sends: 20 cleared yesterday, then 15 today."""
    feed = await connect(link)
    r = await feed.push([tx(f"y{i:02d}", day(-1)) for i in range(20)])
    assert r.status_code == 200, r.text
    clock.freeze(NOW + timedelta(minutes=5))
    await fetch(feed, 1, 5)  # sends them
    r = await feed.push([tx(f"t{i:02d}", day(0)) for i in range(15)])
    assert r.status_code == 200, r.text
    clock.freeze(NOW + timedelta(minutes=10))
    await fetch(feed, 1, 5)
    return feed


async def test_first_middle_last_and_out_of_range_pages(
    linkable: Linkable, sessions: async_sessionmaker[AsyncSession]
) -> None:
    feed = await sent_feed(linkable)
    # Straight to the middle and the last page (nothing remembered for size 6): OFFSET.
    await check(sessions, feed, 4, 6)
    last = await check(sessions, feed, 6, 6)
    assert len(last["results"]) == 5
    # Then walked in order: each page after the first starts from the one before.
    for page in range(1, 8):
        await check(sessions, feed, page, 7)
    beyond = await check(sessions, feed, 9, 7)
    assert beyond["results"] == [] and beyond["totalResults"] == 35
    # The pull log still names each answer's first and last rows.
    async with sessions() as session:
        pull = (
            await session.execute(select(IdxPull).order_by(IdxPull.id.desc()).offset(1).limit(1))
        ).scalar_one()
        assert (pull.page_number, pull.page_size, pull.rows, pull.total) == (7, 7, 0, 35)
        pulls = (await session.execute(select(IdxPull).where(IdxPull.page_number == 5))).scalars()
        five = next(p for p in pulls if p.page_size == 7)
        first, last_row = (
            await session.get(BankTransaction, five.first_id),
            await session.get(BankTransaction, five.last_id),
        )
    assert first is not None and last_row is not None
    rows, _ = await expected(sessions, feed, 5, 7)
    assert (first.description, last_row.description) == (rows[0], rows[-1])


async def test_a_send_between_pages_appends_and_a_reserve_reorders(
    linkable: Linkable, sessions: async_sessionmaker[AsyncSession]
) -> None:
    feed = await sent_feed(linkable)
    await check(sessions, feed, 1, 8)
    await check(sessions, feed, 2, 8)
    # A send between pages: the pull sends 4 more first; they join the window's end.
    assert (await feed.push([tx(f"n{i}", day(0)) for i in range(4)])).status_code == 200
    clock.freeze(NOW + timedelta(minutes=20))
    third = await check(sessions, feed, 3, 8)
    assert third["totalResults"] == 39
    # A re-serve between pages moves yesterday's 20 rows to the window's end: the rows before
    # page 4's remembered start moved, so the page is answered from scratch, as by definition.
    clock.freeze(NOW + timedelta(hours=1))
    body = {"fromDate": day(-1), "toDate": day(-1)}
    r = await feed.api.call("POST", f"{feed.account_path}/reserve", body)
    assert r.status_code == 200 and r.json()["rows"] == 20, r.text
    fourth = await check(sessions, feed, 4, 8)
    assert fourth["totalResults"] == 39
    assert [t["transactionDescription"] for t in fourth["results"]][-1].startswith("Purchase y")
    for page in range(1, 7):
        await check(sessions, feed, page, 8)
    # The batches agree with the rows: one per sent_at, nothing counted twice.
    async with sessions() as session:
        batches = (
            await session.execute(
                select(SentBatch.sent_at, SentBatch.row_count).where(
                    SentBatch.account_pk == uuid.UUID(feed.idx_account_id)
                )
            )
        ).all()
    assert sorted(n for _, n in batches) == [4, 15, 20]


async def test_concurrent_pagers_get_the_same_pages(
    linkable: Linkable, sessions: async_sessionmaker[AsyncSession]
) -> None:
    feed = await sent_feed(linkable)

    async def walk() -> list[list[str]]:
        out = []
        for page in range(1, 6):
            body = await fetch(feed, page, 8)
            assert body["totalResults"] == 35
            out.append([t["transactionDescription"] for t in body["results"]])
        return out

    walks = await asyncio.gather(*(walk() for _ in range(4)))
    want = [(await expected(sessions, feed, page, 8))[0] for page in range(1, 6)]
    assert all(w == want for w in walks)


async def test_the_next_page_starts_from_the_remembered_key_only_while_it_holds(
    linkable: Linkable, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    feed = await sent_feed(linkable)
    pk = uuid.UUID(feed.idx_account_id)
    await check(sessions, feed, 1, 7)
    await check(sessions, feed, 2, 7)
    redis = Redis.from_url(settings.redis_url)
    cursors = PageCursors(redis, settings.redis_prefix)
    try:
        remembered = await cursors.get(pk, START, END, 7, 2)
        assert remembered is not None
        async with sessions() as session:
            ordered = list(
                (
                    await session.execute(
                        select(BankTransaction)
                        .where(BankTransaction.account_pk == pk)
                        .order_by(BankTransaction.sent_at, BankTransaction.id)
                    )
                ).scalars()
            )
        assert remembered[:2] == (ordered[13].sent_at, ordered[13].id)
        # Page 3 really starts after the remembered key: one moved by two rows shows it.
        moved = ordered[15]
        assert moved.sent_at is not None
        await cursors.put(pk, START, END, 7, 2, (moved.sent_at, moved.id, remembered[2]))
        shifted = await fetch(feed, 3, 7)
        want = [t.description for t in ordered[16:23]]
        assert [t["transactionDescription"] for t in shifted["results"]] == want
        # A key whose batches no longer match (here: a stale mark) is not trusted: OFFSET.
        await cursors.put(pk, START, END, 7, 2, (moved.sent_at, moved.id, "stale"))
        await check(sessions, feed, 3, 7)
    finally:
        await redis.aclose()


def test_page_rows_are_built_exactly_as_model_construct_builds_them() -> None:
    adapter = TypeAdapter(list[schemas.IntuitTransaction])
    pk = uuid.uuid4()
    at = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
    rows = [
        BankTransaction(
            id=n,
            transaction_id=tid,
            cleared_on=date(2026, 3, 9),
            description="Café - 1",
            amount=Decimal(amount),
            sent_at=at,
        )
        for n, (tid, amount) in enumerate([("a/1", "-2.5"), ("é 2", "1000000.10"), ("x", "0")])
    ]
    for kind in ("checking", "creditcard", "prepaid", "loan"):
        account = SourceAccount(pk=pk, account_type=kind, currency="CAD")
        intuit_kind = service.intuit_type(account)[0]
        info = {
            "deposit": "depositTransactionInfo",
            "creditcard": "creditCardTransactionInfo",
            "cashcard": "cashCardTransactionInfo",
            "loan": "loanTransactionInfo",
        }[intuit_kind]
        want = []
        for r in rows:
            out = schemas.IntuitTransaction.model_construct(
                transactionId=str(
                    uuid.uuid5(service.TRANSACTION_NAMESPACE, f"{pk}/{r.transaction_id}")
                ),
                accountId=str(pk),
                accountType=intuit_kind,
                transactionDate=r.cleared_on,
                postedDate=r.cleared_on,
                fundsAvailableDate=r.cleared_on,
                transactionDescription=r.description,
                amount=schemas.Amount.model_construct(currency="CAD", amount=f"{r.amount:.2f}"),
                transactionValueType="CREDIT" if r.amount > 0 else "DEBIT",
                modifiedDate=r.sent_at,
            )
            setattr(
                out, info, {info.replace("Info", "Type"): "credit" if r.amount > 0 else "debit"}
            )
            want.append(out)
        got = service.intuit_transactions(account, intuit_kind, rows)
        assert adapter.dump_json(got, by_alias=True) == adapter.dump_json(want, by_alias=True)
        assert [t.model_fields_set for t in got] == [t.model_fields_set for t in want]
