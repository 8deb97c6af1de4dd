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
    assert (await feed.push([tx("a", day(0)), tx("b", day(0))])).status_code == 200
    fresh = [tx(f"n{i}", day(0)) for i in range(size - 1)]
    mixed = [*fresh[:1], tx("a", day(0)), *fresh[1:]]
    r = await feed.push(mixed)
    assert r.status_code == 400, r.text
    errors = r.json()["validation"]["errors"]
    assert [(e["itemId"], e["validatorName"]) for e in errors] == [("a", "UniqueTransactionId")]
    assert "already accepted" in errors[0]["message"]
    # The push's other rows were not kept: the same ids go through afterwards.
    again = await feed.push(fresh)
    assert again.status_code == 200, again.text
    assert len(again.json()["data"]["transactions"]) == size - 1
