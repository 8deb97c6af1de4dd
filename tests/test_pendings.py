"""Pending → posted lineage through the client API and QuickBooks' pull: every cleared line is
published exactly once whatever links it, and a hold never is."""

from __future__ import annotations

from datetime import timedelta

from app import clock
from app.kit.services import Services
from tests.helpers.clients import Linkable, assert_error
from tests.helpers.feeds import NOW, connect, day, tx
from tests.helpers.pendings import (
    add_card,
    assert_once,
    hold,
    pending,
    pendings_path,
    post_holds,
    quickbooks_sees,
    run_expiry,
    set_matching,
)


async def test_holds_are_judged_one_by_one_and_never_published(linkable: Linkable) -> None:
    feed = await connect(linkable)
    r = await post_holds(
        feed,
        [
            hold("p-ok", day(-1)),
            hold("p-future", day(1)),
            hold("p-old", day(-31)),
            hold("p-cents", day(0), amount="-1.005"),
            {"id": "p-bad"},
        ],
    )
    assert r.status_code == 207, r.text
    codes = {i["id"]: i["result"]["statusCode"] for i in r.json()}
    assert codes == {"p-ok": 201, "p-future": 400, "p-old": 400, "p-cents": 400, "p-bad": 400}
    refused = {i["id"]: i["result"]["errors"][0]["validatorName"] for i in r.json()[1:4]}
    assert refused == {"p-future": "NoFutureDates", "p-old": "MaxAge", "p-cents": "Amount"}
    assert (await post_holds(feed, [hold("p-x", day(2))])).status_code == 400
    listed = (await feed.api.call("GET", pendings_path(feed), params={"status": "held"})).json()
    assert [p["id"] for p in listed["results"]] == ["p-ok"]
    assert await quickbooks_sees(feed) == []


async def test_reposting_a_held_id_updates_it_and_keeps_history(linkable: Linkable) -> None:
    feed = await connect(linkable)
    assert (await post_holds(feed, [hold("p1", day(-1), "-50.00")])).status_code == 201
    r = await post_holds(feed, [hold("p1", day(-1), "-62.00", description="Hold p1 + tip")])
    assert r.status_code == 201 and r.json()[0]["result"]["statusCode"] == 200
    got = await pending(feed, "p1")
    assert got["amount"] == -62.0 and got["description"] == "Hold p1 + tip"
    assert [(h["amount"], h["description"]) for h in got["history"]] == [(-50.0, "Hold p1")]


async def test_same_id_links_and_quickbooks_sees_the_authorization_date(
    linkable: Linkable,
) -> None:
    feed = await connect(linkable)
    await post_holds(feed, [hold("t-6", day(-3), "-25.00")])
    r = await feed.push([tx("t-6", day(0), "-25.00")])
    assert r.status_code == 200, r.text
    got = await pending(feed, "t-6")
    assert got["status"] == "posted"
    assert [(k["transactionId"], k["matchedBy"], k["amountDelta"]) for k in got["links"]] == [
        ("t-6", "sameId", 0.0)
    ]
    seen = assert_once(feed, await quickbooks_sees(feed), ["t-6"], ["t-6"])
    assert seen["t-6"]["transactionDate"] == day(-3)
    assert seen["t-6"]["postedDate"] == day(0)


async def test_fx_drift_links_by_pending_transaction_id(linkable: Linkable) -> None:
    feed = await connect(linkable)
    await post_holds(feed, [hold("fx-hold", day(-2), "-100.00")])
    r = await feed.push([tx("fx-1", day(0), "-101.37", pendingTransactionId="fx-hold")])
    assert r.status_code == 200, r.text
    key = r.json()["pushOperationKey"]
    assert "pendingLinks" not in r.json(), "the push answer keeps Codat's shape"
    links = await feed.api.call(
        "GET",
        f"{feed.link.connection_path}/push/bankAccounts/{feed.account_id}/pendingLinks",
        params={"pushOperationKey": key},
    )
    assert [
        (k["pendingTransactionId"], k["transactionId"], k["matchedBy"], k["amountDelta"])
        for k in links.json()["results"]
    ] == [("fx-hold", "fx-1", "pendingTransactionId", -1.37)]
    latest = await feed.api.call("GET", links.request.url.path)
    assert [k["transactionId"] for k in latest.json()["results"]] == ["fx-1"]
    seen = assert_once(feed, await quickbooks_sees(feed), ["fx-1"], ["fx-hold"])
    assert seen["fx-1"]["transactionDate"] == day(-2)
    assert seen["fx-1"]["amount"]["amount"] == "-101.37"


async def test_partial_capture_200_as_120_and_80(linkable: Linkable) -> None:
    feed = await connect(linkable)
    await post_holds(feed, [hold("pc", day(-2), "-200.00")])
    r = await feed.push([tx("pc-1", day(-1), "-120.00", pendingTransactionId="pc")])
    assert r.status_code == 200, r.text
    r = await feed.push([tx("pc-2", day(0), "-80.00", pendingTransactionId="pc")])
    assert r.status_code == 200, r.text
    warned = r.json()["validation"]["warnings"]
    assert [w["validatorName"] for w in warned] == ["PendingAlreadyPosted"]
    r = await feed.push(
        [tx("pc-3", day(0), "-80.00", pendingTransactionId="pc", partialCapture=True)]
    )
    assert r.status_code == 200, r.text
    got = await pending(feed, "pc")
    assert got["status"] == "posted"
    assert [k["transactionId"] for k in got["links"]] == ["pc-1", "pc-3"]
    assert [k["partialCapture"] for k in got["links"]] == [False, True]
    assert_once(feed, seen := await quickbooks_sees(feed), ["pc-1", "pc-2", "pc-3"], ["pc"])
    assert len(seen) == 3


async def test_release_then_a_late_clear_is_published_unlinked(linkable: Linkable) -> None:
    feed = await connect(linkable)
    await post_holds(feed, [hold("rel", day(-1))])
    path = f"{pendings_path(feed)}/rel/release"
    r = await feed.api.call("POST", path, {"reason": "declined"})
    assert r.status_code == 200 and r.json()["status"] == "released", r.text
    assert r.json()["releaseReason"] == "declined"
    assert_error(await feed.api.call("POST", path, {"reason": "declined"}), 409)
    assert_error(await feed.api.call("POST", path, {"reason": "sorry"}), 400)
    r = await feed.push([tx("rel-1", day(0), "-50.00", pendingTransactionId="rel")])
    assert [w["validatorName"] for w in r.json()["validation"]["warnings"]] == ["PendingReleased"]
    assert (await pending(feed, "rel"))["links"] == []
    assert_once(feed, await quickbooks_sees(feed), ["rel-1"], ["rel"])


async def test_cleared_line_before_its_pending(linkable: Linkable) -> None:
    feed = await connect(linkable)
    r = await feed.push([tx("early-1", day(0), "-30.00", pendingTransactionId="late")])
    assert r.status_code == 200, r.text
    r = await feed.push([tx("same-late", day(0), "-12.00")])
    assert r.status_code == 200, r.text
    r = await post_holds(feed, [hold("late", day(-2), "-28.00"), hold("same-late", day(-1))])
    assert r.status_code == 201, r.text
    late, same = (i["result"]["pendingTransaction"] for i in r.json())
    assert late["status"] == "posted" and same["status"] == "posted"
    assert [(k["transactionId"], k["amountDelta"]) for k in late["links"]] == [("early-1", -2.0)]
    assert [k["matchedBy"] for k in same["links"]] == ["sameId"]
    seen = assert_once(feed, await quickbooks_sees(feed), ["early-1", "same-late"], ["late"])
    assert seen["early-1"]["transactionDate"] == day(-2)
    # A pending that arrives after its line was published links, but the line stays as served.
    await feed.push([tx("sent-first", day(0), "-9.00", pendingTransactionId="after")])
    await quickbooks_sees(feed)
    await post_holds(feed, [hold("after", day(-3), "-9.00")])
    assert (await pending(feed, "after"))["status"] == "posted"
    seen = assert_once(feed, await quickbooks_sees(feed), ["sent-first"], ["after"])
    assert seen["sent-first"]["transactionDate"] == day(0)


async def test_auto_links_a_unique_amount_and_only_suggests_a_tip(linkable: Linkable) -> None:
    feed = await connect(linkable)
    await set_matching(feed, "auto")
    await post_holds(
        feed,
        [
            hold("coffee", day(-1), "-50.00", description="Cafe Bistro"),
            hold("books", day(-2), "-31.40", description="Book Store"),
        ],
    )
    r = await feed.push(
        [
            {**tx("tip-1", day(0), "-59.50"), "description": "CAFE  bistro"},
            tx("bk-1", day(0), "-31.40"),
        ]
    )
    assert r.status_code == 200, r.text
    coffee, books = await pending(feed, "coffee"), await pending(feed, "books")
    assert coffee["status"] == "held" and coffee["links"] == []
    assert coffee["suggestions"] == [{"transactionId": "tip-1", "reason": "description"}]
    assert books["status"] == "posted"
    assert [(k["transactionId"], k["matchedBy"]) for k in books["links"]] == [("bk-1", "auto")]
    assert_once(feed, await quickbooks_sees(feed), ["tip-1", "bk-1"], ["coffee", "books"])


async def test_explicit_mode_never_matches_by_amount(linkable: Linkable) -> None:
    feed = await connect(linkable)
    await post_holds(feed, [hold("h", day(-1), "-31.40")])
    await feed.push([tx("c", day(0), "-31.40")])
    assert (await pending(feed, "h"))["status"] == "held"


async def test_two_equal_holds_and_one_clear_give_suggestions_only(linkable: Linkable) -> None:
    feed = await connect(linkable)
    await set_matching(feed, "auto")
    await post_holds(feed, [hold("a", day(-1), "-20.00"), hold("b", day(-2), "-20.00")])
    r = await feed.push([tx("c20", day(0), "-20.00")])
    assert r.status_code == 200, r.text
    for pid in ("a", "b"):
        got = await pending(feed, pid)
        assert got["status"] == "held" and got["links"] == []
        assert got["suggestions"] == [{"transactionId": "c20", "reason": "sameAmount"}]
    # One hold, two equal clears in one push: no auto link either.
    await post_holds(feed, [hold("one", day(-1), "-7.00")])
    await feed.push([tx("x1", day(0), "-7.00"), tx("x2", day(0), "-7.00")])
    assert (await pending(feed, "one"))["status"] == "held"
    assert_once(feed, await quickbooks_sees(feed), ["c20", "x1", "x2"], ["a", "b", "one"])


async def test_a_card_hold_expires_on_day_30_and_a_late_clear_still_publishes(
    linkable: Linkable, services: Services
) -> None:
    await add_card(linkable)
    feed = await connect(linkable, name_of="Business Card")
    await post_holds(feed, [hold("card-h", day(0), "-80.00")])
    deposit = await connect(linkable)
    await post_holds(deposit, [hold("dep-h", day(0), "-5.00")])
    clock.freeze(NOW + timedelta(days=29))
    assert (await run_expiry(services))["expired"] >= 1  # the deposit's hold (14 days)
    assert (await pending(feed, "card-h"))["status"] == "held"
    assert (await pending(deposit, "dep-h"))["status"] == "expired"
    clock.freeze(NOW + timedelta(days=30))
    await run_expiry(services)
    assert (await pending(feed, "card-h"))["status"] == "expired"
    r = await feed.push([tx("card-c", day(30), "-80.00", pendingTransactionId="card-h")])
    assert r.status_code == 200, r.text
    assert [w["validatorName"] for w in r.json()["validation"]["warnings"]] == ["PendingExpired"]
    r = await feed.pull(day(-60), day(32))
    assert_once(feed, r.json()["results"], ["card-c"], ["card-h"])


async def test_a_retry_with_the_same_key_stores_nothing_twice(linkable: Linkable) -> None:
    feed = await connect(linkable)
    key = {"Idempotency-Key": "pend-retry-1"}
    first = await post_holds(feed, [hold("k1", day(-1))], headers=key)
    again = await post_holds(feed, [hold("k1", day(-1))], headers=key)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert (await pending(feed, "k1"))["history"] == []
    push_key = {"Idempotency-Key": "push-retry-1"}
    one = await feed.push(
        [tx("k1c", day(0), "-50.00", pendingTransactionId="k1")], headers=push_key
    )
    two = await feed.push(
        [tx("k1c", day(0), "-50.00", pendingTransactionId="k1")], headers=push_key
    )
    assert one.json() == two.json()
    assert len((await pending(feed, "k1"))["links"]) == 1
    assert_once(feed, await quickbooks_sees(feed), ["k1c"], ["k1"])


async def test_links_on_every_write_path(linkable: Linkable) -> None:
    """A small push and a big one (the one write, `store_push`, at two sizes) link in their own
    transaction alike; a refused big push links nothing."""
    feed = await connect(linkable)
    await post_holds(feed, [hold("big-same", day(-1), "-1.00"), hold("big-ref", day(-1), "-2.00")])
    items = [tx(f"b{i:03}", day(0), "-1.00") for i in range(250)]
    refused = [*items[:-1], tx("b248", day(0), "-1.00")]  # a duplicate id: all refused
    refused[0] = tx("big-same", day(0), "-1.00")
    assert (await feed.push(refused)).status_code == 400
    assert (await pending(feed, "big-same"))["status"] == "held"
    items[0] = tx("big-same", day(0), "-1.00")
    items[1] = tx("b001", day(0), "-2.05", pendingTransactionId="big-ref")
    r = await feed.push(items)
    assert r.status_code == 200, r.text
    assert [k["transactionId"] for k in (await pending(feed, "big-same"))["links"]] == ["big-same"]
    assert [k["amountDelta"] for k in (await pending(feed, "big-ref"))["links"]] == [-0.05]
    seen = assert_once(feed, await quickbooks_sees(feed), [i["id"] for i in items], [])
    assert len(seen) == 250 and seen["b001"]["transactionDate"] == day(-1)
