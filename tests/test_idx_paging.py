"""IDX transaction pages: a range scan from the page's first (sent_at, send_seq) key inside
(batch totals, each sent row's place in its batch), exactly the OFFSET answers outside, through
sends and re-serves between pages, cold jumps and pagers side by side."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import TypeAdapter
from sqlalchemy import event, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import clock
from app.accounts.tables import SourceAccount
from app.idx import repository as idx_repository
from app.idx import schemas, service
from app.transactions.tables import BankTransaction, IdxPull, SentBatch
from tests.helpers.clients import Linkable
from tests.helpers.feeds import NOW, Feed, connect, day, tx
from tests.helpers.servers import ON_POSTGRES

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


async def scalars(sessions: async_sessionmaker[AsyncSession], stmt: Any) -> list[Any]:
    async with sessions() as session:
        return list((await session.execute(stmt)).scalars())


async def assert_numbered(sessions: async_sessionmaker[AsyncSession], feed: Feed) -> None:
    """Every batch's send_seq is 1..n in id order, pending rows carry none, and sent_batches
    counts exactly the rows of each batch."""
    pk = uuid.UUID(feed.idx_account_id)
    mine = BankTransaction.account_pk == pk
    numbered = (
        select(
            BankTransaction.send_seq,
            func.row_number()
            .over(partition_by=BankTransaction.sent_at, order_by=BankTransaction.id)
            .label("n"),
        )
        .where(mine, BankTransaction.sent_at.is_not(None))
        .subquery()
    )
    async with sessions() as session:
        wrong = await session.execute(
            select(func.count())
            .select_from(numbered)
            .where(or_(numbered.c.send_seq.is_(None), numbered.c.send_seq != numbered.c.n))
        )
        assert wrong.scalar_one() == 0, "send_seq is dense and in id order in every batch"
        pending = await session.execute(
            select(func.count()).where(
                mine, BankTransaction.sent_at.is_(None), BankTransaction.send_seq.is_not(None)
            )
        )
        assert pending.scalar_one() == 0
        counted = select(BankTransaction.sent_at, func.count()).where(
            mine, BankTransaction.sent_at.is_not(None)
        )
        rows = dict((await session.execute(counted.group_by(BankTransaction.sent_at))).all())
        kept = select(SentBatch.sent_at, SentBatch.row_count).where(SentBatch.account_pk == pk)
        batches = dict((await session.execute(kept)).all())
    assert rows == batches


async def check_every_page(
    sessions: async_sessionmaker[AsyncSession], feed: Feed, size: int, *, last_first: bool = True
) -> None:
    """Every page of today's window (and one beyond), the last one first (a cold jump)."""
    _, total = await expected(sessions, feed, 1, size)
    pages = -(-total // size)
    order = [pages, *range(1, pages + 2)] if last_first else list(range(1, pages + 2))
    for page in order:
        await check(sessions, feed, page, size)


async def reserve(feed: Feed, first: str, last: str, rows: int) -> None:
    body = {"fromDate": first, "toDate": last}
    r = await feed.api.call("POST", f"{feed.account_path}/reserve", body)
    assert r.status_code == 200 and r.json()["rows"] == rows, r.text


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
    # Straight to the middle and the last page: nothing walked before them.
    await check(sessions, feed, 4, 6)
    last = await check(sessions, feed, 6, 6)
    assert len(last["results"]) == 5
    # Then walked in order.
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
    # A re-serve between pages moves yesterday's 20 rows to the window's end: page 4 is what
    # the definition says of the window as it is now.
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
    await assert_numbered(sessions, feed)


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


async def test_a_cold_jump_to_a_late_page_of_a_large_batch(
    linkable: Linkable, sessions: async_sessionmaker[AsyncSession]
) -> None:
    feed = await sent_feed(linkable)
    assert (await feed.push([tx(f"b{i:03d}", day(0)) for i in range(150)])).status_code == 200
    clock.freeze(NOW + timedelta(minutes=30))
    await fetch(feed, 1, 5)  # sends them: one batch of 150 after the two of sent_feed
    for size in (7, 50, 200):
        await check_every_page(sessions, feed, size)
    await assert_numbered(sessions, feed)


async def test_reserves_out_of_the_middle_of_a_batch_into_new_and_existing_batches(
    linkable: Linkable, sessions: async_sessionmaker[AsyncSession]
) -> None:
    feed = await connect(linkable)
    # One batch of 30 cleared over three days (in id order), then one of 10.
    three_days = [
        tx(f"{k}{i}", day(d)) for k, d in (("a", -3), ("m", -2), ("z", -1)) for i in range(10)
    ]
    assert (await feed.push(three_days)).status_code == 200
    clock.freeze(NOW + timedelta(minutes=5))
    await fetch(feed, 1, 5)
    assert (await feed.push([tx(f"t{i:02d}", day(0)) for i in range(10)])).status_code == 200
    clock.freeze(NOW + timedelta(minutes=10))
    await fetch(feed, 1, 5)
    await check_every_page(sessions, feed, 4)

    # Out of the middle of the first batch (a hole), into a new batch.
    clock.freeze(NOW + timedelta(minutes=20))
    await reserve(feed, day(-2), day(-2), 10)
    await assert_numbered(sessions, feed)
    await check_every_page(sessions, feed, 4)

    # A send at the same instant joins that batch after it (higher ids) ...
    assert (await feed.push([tx(f"s{i}", day(0)) for i in range(5)])).status_code == 200
    await fetch(feed, 1, 5)
    await assert_numbered(sessions, feed)
    # ... and a re-serve at the same instant brings in rows of lower ids than all of its own.
    await reserve(feed, day(-3), day(-3), 10)
    await assert_numbered(sessions, feed)
    await check_every_page(sessions, feed, 4)
    await check_every_page(sessions, feed, 9, last_first=False)
    # Rows of that batch moved into it again, with the first batch's last ones (emptying it).
    await reserve(feed, day(-3), day(-1), 30)
    await assert_numbered(sessions, feed)
    await check_every_page(sessions, feed, 6)
    mine = SentBatch.account_pk == uuid.UUID(feed.idx_account_id)
    batches = select(SentBatch.row_count).where(mine).order_by(SentBatch.sent_at)
    assert await scalars(sessions, batches) == [10, 35]


async def test_two_sends_at_the_same_instant_make_one_numbered_batch(
    linkable: Linkable, sessions: async_sessionmaker[AsyncSession]
) -> None:
    feed = await connect(linkable)
    clock.freeze(NOW + timedelta(minutes=5))
    assert (await feed.push([tx(f"a{i}", day(0)) for i in range(8)])).status_code == 200
    await fetch(feed, 1, 5)
    assert (await feed.push([tx(f"b{i}", day(0)) for i in range(6)])).status_code == 200
    await fetch(feed, 1, 5)  # the same frozen instant: the same batch, 14 rows
    await assert_numbered(sessions, feed)
    mine = BankTransaction.account_pk == uuid.UUID(feed.idx_account_id)
    seqs = select(BankTransaction.send_seq).where(mine).order_by(BankTransaction.id)
    assert await scalars(sessions, seqs) == list(range(1, 15))
    await check_every_page(sessions, feed, 3)


@pytest.mark.configured(ON_POSTGRES, "needs PostgreSQL (DATABASE_URL)")
async def test_a_cold_jump_is_an_index_range_scan(
    linkable: Linkable, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The page query, as paging.page sends it, reads the partial index in its order from the
    page's first key: no Sort, no row before the page."""
    feed = await sent_feed(linkable)
    pk = uuid.UUID(feed.idx_account_id)

    sent: list[tuple[str, Any]] = []

    def capture(on: Any, _cur: Any, statement: str, params: Any, *_: Any) -> None:
        if on is conn.sync_connection:  # not the app's other work on the same engine
            sent.append((statement, params))

    async with sessions() as session:
        (at, _), *_ = await idx_repository.sent_batches(session, pk, START, END)
        # A table this small would be read whole: ask for the plan a large one gets.
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        await session.execute(text("SET LOCAL enable_bitmapscan = off"))
        conn = await session.connection()
        event.listen(conn.sync_engine, "before_cursor_execute", capture)
        try:
            rows = await idx_repository.sent_from(session, pk, at, 5, END, 4)
        finally:
            event.remove(conn.sync_engine, "before_cursor_execute", capture)
        assert len(rows) == 4
        (statement, params), *_ = sent
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None
        explained = await driver.fetch(
            f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) {statement}", *params
        )
    plan = "\n".join(r[0] for r in explained)
    assert "Index Scan using ix_bank_transactions_account_sent_seq" in plan, plan
    assert "Sort" not in plan, plan
    assert re.search(r"Index Scan .*actual rows=4(\.00)? ", plan), plan


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
