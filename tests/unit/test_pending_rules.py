"""The linking rules as a pure function (app/pendings/rules.py), table-driven and by property."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.pendings.rules import Cleared, Hold, plan

D = date(2026, 3, 10)


def held(pid: str, amount: str, back: int = 1, status: str = "held", text: str = "Shop") -> Hold:
    return Hold(pid, status, D - timedelta(days=back), Decimal(amount), text)


def line(tid: str, amount: str, ref: str | None = None, partial: bool = False) -> Cleared:
    return Cleared(tid, D, Decimal(amount), "Shop", ref, partial)


@pytest.mark.parametrize(
    ("holds", "items", "auto", "links", "suggestions"),
    [
        ([held("a", "-5")], [line("a", "-6")], False, [("a", "a", "sameId")], []),
        (
            [held("a", "-5")],
            [line("x", "-6", "a")],
            False,
            [("a", "x", "pendingTransactionId")],
            [],
        ),
        ([held("a", "-5")], [line("x", "-5")], False, [], []),
        ([held("a", "-5")], [line("x", "-5")], True, [("a", "x", "auto")], []),
        ([held("a", "-5", back=9)], [line("x", "-5")], True, [], []),  # outside the 8 days
        ([held("a", "5")], [line("x", "-5")], True, [], []),  # other sign
        (
            [held("a", "-5"), held("b", "-5")],
            [line("x", "-5")],
            True,
            [],
            [("a", "x", "sameAmount"), ("b", "x", "sameAmount")],
        ),
        (
            [held("a", "-5")],
            [line("x", "-5"), line("y", "-5")],
            True,
            [],
            [("a", "x", "sameAmount"), ("a", "y", "sameAmount")],
        ),
        ([held("a", "-50")], [line("x", "-59.50")], True, [], [("a", "x", "description")]),
        ([held("a", "-50")], [line("x", "-65.01")], True, [], []),  # beyond +30 %
        ([held("a", "-5", status="posted")], [line("x", "-5", "a")], False, [], []),
        (
            [held("a", "-5", status="posted")],
            [line("x", "-5", "a", True)],
            False,
            [("a", "x", "pendingTransactionId")],
            [],
        ),
        ([held("a", "-5", status="released")], [line("a", "-5")], True, [], []),
        ([held("a", "-5", status="expired")], [line("a", "-5")], False, [("a", "a", "sameId")], []),
    ],
)
def test_rules(
    holds: list[Hold],
    items: list[Cleared],
    auto: bool,
    links: list[tuple[str, str, str]],
    suggestions: list[tuple[str, str, str]],
) -> None:
    made = plan(items, {h.pending_id: h for h in holds}, auto=auto)
    assert [(k.pending_id, k.transaction_id, k.matched_by) for k in made.links] == links
    assert sorted(made.suggestions) == suggestions


def test_an_unknown_pending_waits() -> None:
    (link,) = plan([line("x", "-5", "later")], {}, auto=False).links
    assert (link.state, link.pending_id, link.amount_delta) == ("waiting", "later", None)


HOLD = st.builds(
    held,
    st.sampled_from(["a", "b", "c", "d"]),
    st.sampled_from(["-5", "-6", "5"]),
    st.integers(0, 10),
    st.sampled_from(["held", "held", "posted", "released", "expired"]),
)
LINE = st.builds(
    line,
    st.sampled_from(["a", "b", "x", "y", "z"]),
    st.sampled_from(["-5", "-6", "5", "-7.5"]),
    st.one_of(st.none(), st.sampled_from(["a", "b", "q"])),
    st.booleans(),
)


@given(holds=st.lists(HOLD, max_size=5), items=st.lists(LINE, max_size=5), auto=st.booleans())
def test_links_are_unique_and_auto_never_picks_among_two(
    holds: list[Hold], items: list[Cleared], auto: bool
) -> None:
    items = list({i.id: i for i in items}.values())  # ids are unique in a push
    by_id = {h.pending_id: h for h in holds}
    made = plan(items, by_id, auto=auto)
    assert all(n == 1 for n in Counter(k.transaction_id for k in made.links).values())
    once = Counter(k.pending_id for k in made.links if k.state == "linked" and not k.partial)
    assert all(n == 1 for n in once.values()), "a pending is posted once, then partial captures"
    for k in made.links:
        if k.matched_by == "auto":
            assert auto
            item = next(i for i in items if i.id == k.transaction_id)
            rivals = [
                h
                for h in by_id.values()
                if h.status == "held"
                and h.amount == item.amount
                and D - timedelta(days=8) <= h.authorized_on <= D
                and h.pending_id not in {i.id for i in items} | {i.pending_ref for i in items}
            ]
            assert len(rivals) == 1
            assert (
                sum(
                    1
                    for i in items
                    if i.amount == item.amount and i.pending_ref is None and i.id not in by_id
                )
                == 1
            )
