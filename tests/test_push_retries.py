"""Safe retries (Idempotency-Key), concurrent pushes, and property-based pushes."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from datetime import timedelta
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import clock
from app.accounts.tables import SourceAccount
from app.kit.idempotency import service as idempotency
from app.kit.principal import Principal
from app.transactions.tables import BankTransaction, PushOperation
from tests.feeds import Feed, connect, day, tx
from tests.helpers import Linkable, TenantKeys, request_log, v1_account


async def rows_of(sessions: async_sessionmaker[AsyncSession], feed: Feed) -> list[BankTransaction]:
    async with sessions() as session:
        stmt = (
            select(BankTransaction)
            .join(SourceAccount, SourceAccount.pk == BankTransaction.account_pk)
            .where(
                SourceAccount.connection_id == uuid.UUID(feed.link.connection["id"]),
                SourceAccount.account_id == feed.account_id,
            )
            .order_by(BankTransaction.id)
        )
        return list((await session.execute(stmt)).scalars())


async def test_same_key_same_body_replays_byte_for_byte(
    linkable: Linkable, sessions: async_sessionmaker[AsyncSession]
) -> None:
    feed = await connect(linkable)
    key = {"Idempotency-Key": "retry-" + secrets.token_hex(4)}
    first = await feed.push([tx("i1", day(0))], headers=key)
    second = await feed.push([tx("i1", day(0))], headers=key)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert second.headers["idempotent-replayed"] == "true"
    assert len(await rows_of(sessions, feed)) == 1
    ops = (await feed.api.call("GET", f"/companies/{linkable.company['id']}/push")).json()
    assert ops["totalResults"] == 1


async def test_same_key_other_body_is_422(linkable: Linkable) -> None:
    feed = await connect(linkable)
    key = {"Idempotency-Key": "k-" + secrets.token_hex(4)}
    assert (await feed.push([tx("i1", day(0))], headers=key)).status_code == 200
    r = await feed.push([tx("i2", day(0))], headers=key)
    assert r.status_code == 422
    assert "different request" in r.json()["error"]
    assert (await feed.push([tx("i1", day(0))], headers=key, timeoutInMinutes=5)).status_code == 422


async def test_in_flight_is_409_until_its_lease_runs_out(
    linkable: Linkable, sessions: async_sessionmaker[AsyncSession], tenant: TenantKeys
) -> None:
    import json

    feed = await connect(linkable)
    key = "flight-" + secrets.token_hex(4)
    body = json.dumps({"accountId": "chk-1", "transactions": [tx("f1", day(0))]}).encode()
    principal = Principal(uuid.UUID(tenant.id), "production")
    print_ = idempotency.fingerprint("POST", feed.push_path, "", body)
    assert await idempotency.begin(sessions, principal, key, print_, 24) is None  # a first request

    r = await feed.api.http.post(
        feed.push_path,
        content=body,
        headers={**feed.api.headers, "Idempotency-Key": key, "Content-Type": "application/json"},
    )
    assert r.status_code == 409
    assert r.json()["canBeRetried"] == "True"
    assert r.headers["retry-after"] == str(idempotency.RETRY_AFTER_MAX), "how long to wait"
    assert request_log(feed.push_path)["tenant"] == tenant.id, "the 409 line names the tenant"
    clock.shift(timedelta(seconds=58))
    r = await feed.api.http.post(
        feed.push_path,
        content=body,
        headers={**feed.api.headers, "Idempotency-Key": key, "Content-Type": "application/json"},
    )
    assert r.status_code == 409
    assert r.headers["retry-after"] == "2", "no later than the lease's end"
    clock.shift(timedelta(seconds=3))  # the first request's process died: its lease ran out
    r = await feed.api.http.post(
        feed.push_path,
        content=body,
        headers={**feed.api.headers, "Idempotency-Key": key, "Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text


async def test_a_rejected_push_replays_its_400_and_keys_last_24h(linkable: Linkable) -> None:
    feed = await connect(linkable)
    key = {"Idempotency-Key": "bad-" + secrets.token_hex(4)}
    first = await feed.push([tx("r1", day(1))], headers=key)
    assert first.status_code == 400
    clock.shift(timedelta(hours=23, minutes=59))
    again = await feed.push([tx("r1", day(1))], headers=key)
    assert again.content == first.content, "the same answer, correlationId included"

    ok_key = {"Idempotency-Key": "ok-" + secrets.token_hex(4)}
    assert (await feed.push([tx("r2", day(0))], headers=ok_key)).status_code == 200
    clock.shift(timedelta(hours=23, minutes=58))
    later = await feed.push([tx("r2", day(-1))], headers=ok_key)
    assert later.status_code == 422, "still remembered just before 24 h"
    clock.shift(timedelta(minutes=3))
    fresh = await feed.push([tx("r2", day(-1))], headers=ok_key)
    assert fresh.status_code == 400, "expired: treated as new, and r2 was already accepted"


async def test_bad_keys_are_400(linkable: Linkable) -> None:
    feed = await connect(linkable)
    for key in ("x" * 256, "tab\there", ""):
        r = await feed.push([tx("k", day(0))], headers={"Idempotency-Key": key})
        assert r.status_code == 400, key


def replayed(r: httpx.Response) -> bool:
    return "idempotent-replayed" in r.headers


async def test_twenty_parallel_pushes_store_every_id_once_in_order(
    linkable: Linkable, sessions: async_sessionmaker[AsyncSession]
) -> None:
    feed = await connect(linkable)

    def batch(k: int) -> list[dict[str, Any]]:
        # Overlapping ids (c{k+1} is also in the next batch) and dates rising with k.
        return [tx(f"c{k}", day(-5 + k // 2)), tx(f"c{k + 1}", day(-5 + k // 2))]

    calls = []
    for k in range(10):
        key = {"Idempotency-Key": f"par-{k}-{secrets.token_hex(3)}"}
        calls += [feed.push(batch(k), headers=key), feed.push(batch(k), headers=key)]
    results = await asyncio.gather(*calls)
    assert {r.status_code for r in results} <= {200, 400, 409}
    assert any(r.status_code == 200 for r in results), "some pushes were accepted"
    for k in range(10):
        a, b = results[2 * k], results[2 * k + 1]
        fresh = [r for r in (a, b) if r.status_code == 200 and not replayed(r)]
        assert len(fresh) <= 1, "a retried key never makes a second push"
        if a.status_code == b.status_code == 200:
            assert a.content == b.content, "the retry is answered with the first answer"

    rows = await rows_of(sessions, feed)
    ids = [r.transaction_id for r in rows]
    assert len(ids) == len(set(ids)), "every id stored exactly once"
    dates = [r.cleared_on for r in rows]
    assert dates == sorted(dates), "the ordering rule held under concurrency"
    accepted = sum(
        r.json()["data"]["transactions"].__len__()
        for r in results
        if r.status_code == 200 and not replayed(r)
    )
    assert accepted == len(rows)
    async with sessions() as session:
        ops = (
            await session.execute(
                select(func.count())
                .select_from(PushOperation)
                .where(PushOperation.connection_id == uuid.UUID(linkable.connection["id"]))
            )
        ).scalar_one()
    assert ops == len({r.json()["pushOperationKey"] for r in results if r.status_code == 200})


ITEM = st.fixed_dictionaries(
    {
        "id": st.sampled_from(["a", "b", "c", "d", "e"]),
        "date": st.integers(min_value=-9, max_value=2).map(day),
        "description": st.sampled_from(["Coffee", "Rent", " "]),
        "amount": st.sampled_from(["-3.50", "12", "0", "0.001", "99999.99"]),
    }
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(pushes=st.lists(st.lists(ITEM, min_size=1, max_size=6), min_size=1, max_size=5))
async def test_random_pushes_are_all_or_nothing(
    linkable: Linkable,
    sessions: async_sessionmaker[AsyncSession],
    pushes: list[list[dict[str, Any]]],
) -> None:
    async def operations() -> int:
        async with sessions() as session:
            query = (
                select(func.count())
                .select_from(PushOperation)
                .join(SourceAccount, SourceAccount.pk == PushOperation.account_pk)
                .where(SourceAccount.account_id == name)
            )
            return (await session.execute(query)).scalar_one()

    name = f"acc-{secrets.token_hex(4)}"
    r = await linkable.api.call("POST", linkable.accounts_path, v1_account(name, accountName=name))
    assert r.status_code == 200
    clock.reset()
    feed = await connect(linkable, name_of=name)
    before, accepted = 0, 0
    for items in pushes:
        r = await feed.push(items)
        rows = await rows_of(sessions, feed)
        ids = [row.transaction_id for row in rows]
        assert len(ids) == len(set(ids)), "accepted ids stay unique per account"
        if r.status_code == 200:
            assert len(rows) == before + len(items), "an accepted push is stored whole"
            accepted += 1
        else:
            assert r.status_code == 400, r.text
            assert len(rows) == before, "a rejected push stores nothing"
        assert await operations() == accepted, "one operation per accepted push, none otherwise"
        before = len(rows)
    clock.reset()
