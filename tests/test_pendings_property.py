"""Any interleaving of holds, cleared lines, releases, expiry, pulls and reversals: QuickBooks is
served every cleared line exactly once and never a hold, a line has at most one link, and auto
matching never links when two holds were candidates."""

from __future__ import annotations

import secrets
from collections import Counter
from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import clock
from app.kit.services import Services
from tests.feeds import NOW, TODAY, connect
from tests.helpers import Linkable, v1_account
from tests.pendings import assert_once, pendings_path, post_holds, run_expiry, set_matching

AMOUNTS = ["-10.00", "-20.00", "-21.00"]
EVENT = st.one_of(
    st.tuples(st.just("hold"), st.integers(0, 3), st.sampled_from(AMOUNTS[:2]), st.integers(0, 9)),
    st.tuples(
        st.just("clear"),
        st.one_of(st.none(), st.integers(0, 3)),
        st.sampled_from(AMOUNTS),
        st.booleans(),  # partialCapture
        st.booleans(),  # use the pending's own id (same-id rule)
    ),
    st.tuples(st.just("release"), st.integers(0, 3)),
    st.tuples(st.just("days"), st.integers(1, 16)),
    st.tuples(st.just("pull")),
    st.tuples(st.just("reverse"), st.integers(0, 5)),
)


def _on(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


async def _all_pendings(feed: Any) -> list[dict[str, Any]]:
    r = await feed.api.call("GET", pendings_path(feed), params={"pageSize": 5000})
    assert r.status_code == 200, r.text
    return r.json()["results"]  # type: ignore[no-any-return]


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(events=st.lists(EVENT, min_size=1, max_size=14), auto=st.booleans())
async def test_any_interleaving_serves_each_cleared_line_once(
    linkable: Linkable, services: Services, events: list[tuple[Any, ...]], auto: bool
) -> None:
    name = f"acc-{secrets.token_hex(4)}"
    r = await linkable.api.call("POST", linkable.accounts_path, v1_account(name, accountName=name))
    assert r.status_code == 200, r.text
    feed = await connect(linkable, name_of=name)
    await set_matching(feed, "auto" if auto else "explicit")
    offset, cleared, sent, seq = 0, [], [], 0
    for event in events:
        kind = event[0]
        if kind == "hold":
            _, p, amount, back = event
            await post_holds(
                feed,
                [
                    {
                        "id": f"p{p}",
                        "authorizedDate": _on(offset - back),
                        "amount": amount,
                        "description": f"Shop {p}",
                    }
                ],
            )
        elif kind == "clear":
            _, ref, amount, partial, same = event
            tid = f"p{ref}" if same and ref is not None and f"p{ref}" not in cleared else None
            seq += 1
            tid = tid or f"c{seq}"
            item: dict[str, Any] = {
                "id": tid,
                "date": _on(offset),
                "description": "Shop",
                "amount": amount,
            }
            if ref is not None and not same:
                item.update(pendingTransactionId=f"p{ref}", partialCapture=partial)
            held = [p for p in await _all_pendings(feed) if p["status"] == "held"]
            today = date.fromisoformat(_on(offset))
            candidates = [
                p
                for p in held
                if f"{p['amount']:.2f}" == f"{float(amount):.2f}"
                and today - timedelta(days=8) <= date.fromisoformat(p["authorizedDate"]) <= today
            ]
            r = await feed.push([item])
            assert r.status_code == 200, r.text
            cleared.append(tid)
            links = [
                k
                for p in await _all_pendings(feed)
                for k in p["links"]
                if k["transactionId"] == tid
            ]
            assert len(links) <= 1
            if links and links[0]["matchedBy"] == "auto":
                assert len(candidates) == 1, (tid, candidates)
        elif kind == "release":
            await feed.api.call(
                "POST", f"{pendings_path(feed)}/p{event[1]}/release", {"reason": "voided"}
            )
        elif kind == "days":
            offset += event[1]
            clock.freeze(NOW + timedelta(days=offset))
            await run_expiry(services)
        elif kind == "pull":
            await feed.pull(_on(-60), _on(offset + 2))
            sent = [t for t in cleared]
        elif kind == "reverse" and sent:
            original = sent[event[1] % len(sent)]
            base = f"{feed.link.connection_path}/push/bankAccounts/{feed.account_id}"
            r = await feed.api.call("POST", f"{base}/bankTransactions/{original}/reversal", {})
            if r.status_code == 200:
                cleared.append(r.json()["id"])
            else:
                assert r.status_code == 409, r.text  # already reversed, or a reversal line
    served = (await feed.pull(_on(-60), _on(offset + 2))).json()["results"]
    holds = [f"p{i}" for i in range(4)]
    assert_once(feed, served, cleared, holds)
    assert len(served) == len(cleared)
    linked = Counter(k["transactionId"] for p in await _all_pendings(feed) for k in p["links"])
    assert all(n == 1 for n in linked.values()), linked
    clock.reset()
