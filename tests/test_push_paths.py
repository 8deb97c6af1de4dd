"""The push's two insert paths (one INSERT from arrays for small pushes, COPY for large ones on
PostgreSQL): a known id is refused the same way on both, and nothing of the push stays."""

from __future__ import annotations

import pytest

from app.transactions.repository import UNNEST_MAX_ITEMS
from tests.feeds import connect, day, tx
from tests.helpers import Linkable


@pytest.mark.parametrize("size", [3, UNNEST_MAX_ITEMS + 5])
async def test_a_known_id_refuses_the_push_and_leaves_nothing(
    linkable: Linkable, size: int
) -> None:
    feed = await connect(linkable)
    first = await feed.push([tx("a", day(-1)), tx("b", day(-1), balance="5.00")])
    assert first.status_code == 200
    before = await feed.account()
    fresh = [tx(f"n{i}", day(0)) for i in range(size - 1)]
    mixed = [*fresh[:1], tx("a", day(0)), *fresh[1:-1], tx(fresh[-1]["id"], day(0), balance="9")]
    r = await feed.push(mixed)
    assert r.status_code == 400, r.text
    errors = r.json()["validation"]["errors"]
    assert [(e["itemId"], e["validatorName"]) for e in errors] == [("a", "UniqueTransactionId")]
    assert "already accepted" in errors[0]["message"]
    # No operation for the refused push, and the account's balance and dates as they were.
    operations = await feed.api.call("GET", f"/companies/{linkable.company['id']}/push")
    assert [o["pushOperationKey"] for o in operations.json()["results"]] == [
        first.json()["pushOperationKey"]
    ]
    assert await feed.account() == before
    # The push's other rows were not kept: the same ids go through afterwards.
    again = await feed.push(fresh)
    assert again.status_code == 200, again.text
    assert len(again.json()["data"]["transactions"]) == size - 1
