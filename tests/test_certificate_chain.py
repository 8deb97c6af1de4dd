"""The certificates' promises that are about the chain and the engine rather than one story: the
export verifies offline and stops verifying when one amount is edited; several workers issue each
revision once; and any sequence of pushes, sends, pulls, re-serves and bank figures leaves every
day equal to a reference computed from scratch."""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import clock
from app.certificates.jobs import certify_all
from app.cli.certificates import certificates_group
from app.idx.jobs import send_all
from tests.helpers.builders import v1_account
from tests.helpers.certificates import certificates, from_scratch, line, stored
from tests.helpers.clients import Linkable
from tests.helpers.feeds import NOW, Feed, connect, day


async def gap_then_fixed(linkable: Linkable, sessions: async_sessionmaker[AsyncSession]) -> Feed:
    feed = await connect(linkable)
    await feed.push(
        [line("a1", day(-2), "50.00", "1050.00"), line("a2", day(-2), "-20.25", "1029.75")]
    )
    await feed.push(
        [line("b1", day(-1), "-10.00", "1019.75"), line("b3", day(-1), "-15.00", "999.75")]
    )
    clock.freeze(NOW + timedelta(hours=1))
    assert (await feed.pull(day(-7), day(1))).status_code == 200
    await feed.push([line("b2", day(-1), "-5.00", "1014.75")])
    clock.freeze(NOW + timedelta(hours=2))
    assert (await feed.pull(day(-7), day(1))).status_code == 200
    got = await certificates(feed)
    assert [(c["revision"], c["status"]) for c in got.values()] == [
        (1, "certified"),
        (2, "certified"),
    ]
    return feed


def verify(path: Path) -> Any:
    return CliRunner().invoke(certificates_group, ["verify", str(path)])


async def test_verify_passes_on_an_export_and_fails_when_one_amount_is_edited(
    linkable: Linkable, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    feed = await gap_then_fixed(linkable, sessions)
    base = f"{feed.account_path}/balanceCertificates"
    exported = await feed.api.call("GET", base, params={"format": "json"})
    assert exported.status_code == 200 and "attachment" in exported.headers["content-disposition"]
    document = exported.json()
    assert [(c["date"], c["revision"]) for c in document["certificates"]] == [
        (day(-2), 1),
        (day(-1), 1),
        (day(-1), 2),
    ], "every revision, in chain order"
    good = tmp_path / "export.json"
    good.write_text(exported.text, encoding="utf-8")
    ran = verify(good)
    assert ran.exit_code == 0, ran.output
    assert "OK, 3 certificates" in ran.output

    # One line's amount edited: its day's lines digest no longer matches.
    edited = json.loads(exported.text)
    edited["certificates"][0]["lines"][1]["amount"] = -20.26
    (tmp_path / "line.json").write_text(json.dumps(edited), encoding="utf-8")
    ran = verify(tmp_path / "line.json")
    assert ran.exit_code == 1 and "linesDigest does not match" in ran.output

    # A superseded revision's closing edited: the chain breaks there.
    edited = json.loads(exported.text)
    edited["certificates"][1]["closing"] = 1000
    (tmp_path / "closing.json").write_text(json.dumps(edited), encoding="utf-8")
    ran = verify(tmp_path / "closing.json")
    assert ran.exit_code == 1 and "chainDigest does not match" in ran.output

    as_csv = await feed.api.call("GET", base, params={"format": "csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    (tmp_path / "export.csv").write_text(as_csv.text, encoding="utf-8")
    ran = verify(tmp_path / "export.csv")
    assert ran.exit_code == 0, ran.output
    (tmp_path / "edited.csv").write_text(
        as_csv.text.replace(",-15.00,", ",-15.01,"), encoding="utf-8"
    )
    assert as_csv.text.count(",-15.00,") == 1
    ran = verify(tmp_path / "edited.csv")
    assert ran.exit_code == 1, ran.output


async def test_several_workers_issue_each_revision_once(
    linkable: Linkable, sessions: async_sessionmaker[AsyncSession]
) -> None:
    feed = await connect(linkable)
    for offset in (-4, -3, -2, -1):
        on = day(offset)
        await feed.push([line(f"t{offset}", on, "-1.00", str(100 + offset))])
    clock.freeze(NOW + timedelta(hours=1))
    await asyncio.gather(*(certify_all(sessions, 1) for _ in range(4)))
    rows = await stored(sessions, uuid.UUID(feed.idx_account_id))
    keys = [(r.day, r.revision) for r in rows]
    assert len(keys) == len(set(keys)) == 4
    assert [r.seq for r in rows] == [1, 2, 3, 4]
    assert all(r.previous_digest == p.chain_digest for p, r in itertools.pairwise(rows))
    await asyncio.gather(*(certify_all(sessions, 1) for _ in range(3)))
    assert len(await stored(sessions, uuid.UUID(feed.idx_account_id))) == 4, "nothing re-issued"


# ---- the property test ---------------------------------------------------------------------

LINE = st.tuples(
    st.integers(min_value=-500, max_value=500).filter(bool),  # cents of the amount
    st.sampled_from(["right", "right", "right", "none", "off", "missing"]),
)
ACTION = st.one_of(
    st.tuples(st.just("push"), st.lists(LINE, min_size=1, max_size=4), st.booleans()),
    st.tuples(st.just("send")),
    st.tuples(st.just("pull")),
    st.tuples(st.just("reserve")),
    st.tuples(st.just("figure"), st.booleans()),
)


@dataclass
class Bank:
    """What the bank knows: the true running balance and each day's true closing."""

    running: Decimal = Decimal("1000.00")
    offset: int = -6
    closings: dict[str, Decimal] = field(default_factory=dict)
    count: int = 0


async def new_feed(linkable: Linkable) -> Feed:
    token = secrets.token_hex(4)
    name = f"Prop {token}"
    r = await linkable.api.call(
        "POST", linkable.accounts_path, v1_account(f"p-{token}", accountName=name)
    )
    assert r.status_code in (200, 201), r.text
    return await connect(linkable, name_of=name)


async def act(
    feed: Feed, bank: Bank, action: tuple[Any, ...], sessions: async_sessionmaker[AsyncSession]
) -> bool:
    """One step; True when it certifies (everything but a push)."""
    kind = action[0]
    clock.freeze(clock.now() + timedelta(minutes=7))
    if kind == "push":
        _, spec, next_day = action
        if next_day and bank.offset < 0:
            bank.offset += 1
        on = day(bank.offset)
        items = []
        for cents, mode in spec:
            amount = Decimal(cents) / 100
            bank.running += amount
            bank.count += 1
            if mode == "missing":
                continue  # the bank has it; nobody pushes it
            balance = {"right": bank.running, "off": bank.running + 1, "none": None}[mode]
            items.append(
                line(
                    f"l{bank.count}",
                    on,
                    f"{amount:.2f}",
                    None if balance is None else f"{balance:.2f}",
                )
            )
        bank.closings[on] = bank.running
        if items:
            assert (await feed.push(items)).status_code == 200
        return False
    if kind == "send":
        await send_all(sessions, 50)
    elif kind == "pull":
        assert (await feed.pull(day(-7), day(1))).status_code == 200
    elif kind == "reserve":
        body = {"fromDate": day(-7), "toDate": day(0)}
        assert (
            await feed.api.call("POST", f"{feed.account_path}/reserve", body)
        ).status_code == 200
    elif kind == "figure" and bank.closings:
        on = sorted(bank.closings)[len(bank.closings) // 2]
        figure = bank.closings[on] + (0 if action[1] else Decimal("0.01"))
        body = {"balances": [{"date": on, "closingBalance": f"{figure:.2f}"}]}
        assert (
            await feed.api.call("POST", f"{feed.account_path}/balances", body)
        ).status_code == 200
    return True


async def assert_as_from_scratch(feed: Feed, sessions: async_sessionmaker[AsyncSession]) -> None:
    scratch = await from_scratch(sessions, uuid.UUID(feed.idx_account_id))
    current = {
        r.day: r for r in await stored(sessions, uuid.UUID(feed.idx_account_id)) if r.is_current
    }
    assert set(current) == set(scratch)
    for on, want in scratch.items():
        got = current[on]
        assert (
            got.status,
            got.opening,
            got.closing,
            got.count,
            got.first_break,
            got.difference,
        ) == (
            want.status,
            want.opening,
            want.closing,
            want.count,
            want.first_break,
            want.difference,
        ), on


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(actions=st.lists(ACTION, min_size=1, max_size=10))
async def test_any_sequence_leaves_every_day_as_a_reference_from_scratch(
    linkable: Linkable, sessions: async_sessionmaker[AsyncSession], actions: list[tuple[Any, ...]]
) -> None:
    feed = await new_feed(linkable)
    bank = Bank()
    for action in actions:
        if await act(feed, bank, action, sessions):
            await assert_as_from_scratch(feed, sessions)
    await certify_all(sessions, 50)  # the job: whatever pushes left since
    await assert_as_from_scratch(feed, sessions)
