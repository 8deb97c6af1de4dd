"""A company's export round-trips: every pushed line with its delivery state, the accounts, the
operations and the audit, as one versioned JSON document, or one table as CSV; through the API
(streamed) and `bankfeeds companies export`. Reading and exporting land in the access log."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import clock
from app.access.tables import AccessEntry
from app.config import Settings
from app.exports.service import SCHEMA, VERSION
from tests.helpers.builders import TenantKeys
from tests.helpers.clients import Api, Linkable
from tests.helpers.feeds import NOW, Feed, connect, day, tx
from tests.helpers.pendings import hold, post_holds
from tests.helpers.worker import run_job


async def _fed(linkable: Linkable, settings: Settings, sessions: Any) -> Feed:
    """d1, d2 delivered; s1 sent, not pulled; p1 pending."""
    feed = await connect(linkable)
    assert (
        await feed.push([tx("d1", day(0)), tx("d2", day(0), amount="12.50")])
    ).status_code == 200
    clock.freeze(NOW + timedelta(hours=1))
    await run_job(settings, sessions, "daily_send")
    clock.freeze(NOW + timedelta(hours=2))
    await feed.pull(day(0), day(1))
    clock.freeze(NOW + timedelta(days=1))
    assert (
        await feed.push([tx("s1", day(1), description='Rent, "north" unit')])
    ).status_code == 200
    clock.freeze(NOW + timedelta(days=1, hours=1))
    await run_job(settings, sessions, "daily_send")
    clock.freeze(NOW + timedelta(days=2))
    assert (await feed.push([tx("p1", day(2), description="=1+1")])).status_code == 200
    return feed


async def _history(feed: Feed) -> dict[str, dict[str, Any]]:
    r = await feed.api.call("GET", f"{feed.account_path}/bankTransactions")
    assert r.status_code == 200, r.text
    return {t["id"]: t for t in r.json()["results"]}


async def test_the_export_round_trips_every_line_and_its_delivery_state(
    linkable: Linkable,
    tenant: TenantKeys,
    other_api: Api,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    feed = await _fed(linkable, settings, sessions)
    history = await _history(feed)
    assert {t["status"] for t in history.values()} == {"delivered", "sent", "pending"}
    company_id = linkable.company["id"]

    r = await feed.api.call("GET", f"/companies/{company_id}/export")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    doc = r.json()
    assert (doc["schema"], doc["version"]) == (SCHEMA, VERSION)
    assert doc["company"]["id"] == company_id
    assert doc["company"]["name"] == linkable.company["name"]
    assert [c["id"] for c in doc["connections"]] == [linkable.connection["id"]]
    accounts = {a["id"]: a for a in doc["accounts"]}
    assert set(accounts) == {"chk-1", "sav-2"}
    assert accounts["chk-1"]["accountNumber"] == "12345670", "unsealed to answer"
    lines = {line["id"]: line for line in doc["lines"] if line["accountId"] == feed.account_id}
    assert set(lines) == set(history)
    for tid, line in lines.items():
        assert line["status"] == history[tid]["status"], tid
        assert line["description"] == history[tid]["description"]
        assert line["deliveredOnUtc"] == history[tid]["deliveredOnUtc"]
        assert line["sentOnUtc"] == history[tid]["sentOnUtc"]
    assert lines["d2"]["amount"] == "12.50"
    assert len(doc["pushOperations"]) == 3
    assert sorted(e["action"] for e in doc["audit"]["accessLog"]) == ["export", "read_lines"]

    r = await feed.api.call("GET", f"/companies/{company_id}/export", params={"format": "csv"})
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    by_id = {row["id"]: row for row in rows}
    assert by_id["s1"]["description"] == 'Rent, "north" unit'
    assert by_id["p1"]["description"] == "'=1+1", "a formula is defused in CSV"
    assert lines["p1"]["description"] == "=1+1", "and exact in JSON"
    assert by_id["d1"]["amount"] == "-10.00", "numbers are not defused"
    assert {row["id"]: row["status"] for row in rows} == {
        k: v["status"] for k, v in history.items()
    }
    r = await feed.api.call(
        "GET", f"/companies/{company_id}/export", params={"format": "csv", "table": "accounts"}
    )
    assert {row["id"] for row in csv.DictReader(io.StringIO(r.text))} == {"chk-1", "sav-2"}
    bad = await feed.api.call("GET", f"/companies/{company_id}/export", params={"table": "x"})
    assert bad.status_code == 400
    assert (await other_api.call("GET", f"/companies/{company_id}/export")).status_code == 404

    async with sessions() as session:
        logged = (
            await session.execute(
                select(AccessEntry).where(AccessEntry.company_id == uuid.UUID(company_id))
            )
        ).scalars()
        entries = [(e.actor_kind, e.actor, e.action) for e in logged]
    prefix = tenant.api_key[: len(entries[0][1])]
    assert entries[0][1] and prefix == entries[0][1], "the key's prefix, never the key"
    # One frozen instant: the four entries share their time, so no order is asserted.
    assert sorted(a for _, _, a in entries) == ["export", "export", "export", "read_lines"]


async def test_the_cli_exports_the_same_document(
    linkable: Linkable,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    cli: Any,
    tmp_path: Path,
) -> None:
    feed = await _fed(linkable, settings, sessions)
    company_id = linkable.company["id"]
    out = tmp_path / "export.json"
    await asyncio.to_thread(cli, "companies", "export", company_id, "--out", str(out))
    doc = json.loads(out.read_text())
    assert doc["schema"] == SCHEMA
    history = await _history(feed)
    exported = {line["id"]: line["status"] for line in doc["lines"]}
    assert exported == {k: v["status"] for k, v in history.items()}
    assert doc["audit"]["accessLog"][-1]["actorKind"] == "operator"
    missing = await asyncio.to_thread(cli, "companies", "export", str(uuid.uuid4()), ok=False)
    assert missing.exit_code != 0 and "No company" in missing.output


async def test_the_export_carries_holds_certificates_payees_and_references(
    linkable: Linkable, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The document's additions within version 1: an account's holds, every revision of its balance
    certificates, and each line's counterparty and reference, in JSON and as CSV tables."""
    feed = await connect(linkable)
    pushed = await feed.push(
        [
            tx(
                "b1", day(0), amount="-10.00", balance="90.00", counterparty="Hydro", reference="R1"
            ),
            tx("b2", day(0), amount="-5.00", balance="85.00"),
        ]
    )
    assert pushed.status_code == 200, pushed.text
    held = await post_holds(feed, [hold("h1", day(0), description="Café hold")])
    assert held.status_code == 201, held.text
    clock.freeze(NOW + timedelta(hours=1))
    await run_job(settings, sessions, "daily_send")
    company_id = linkable.company["id"]

    doc = (await feed.api.call("GET", f"/companies/{company_id}/export")).json()
    assert doc["version"] == VERSION == 1
    lines = {line["id"]: line for line in doc["lines"]}
    assert (lines["b1"]["counterparty"], lines["b1"]["reference"]) == ("Hydro", "R1")
    assert lines["b2"]["counterparty"] is None
    assert [(p["id"], p["status"], p["description"]) for p in doc["pendings"]] == [
        ("h1", "held", "Café hold")
    ]
    days = [c for c in doc["balanceCertificates"] if c["accountId"] == feed.account_id]
    assert [(c["date"], c["count"], c["closing"]) for c in days if c["current"]] == [
        (day(0), 2, "85.00")
    ]
    assert all(len(c["chainDigest"]) == 64 for c in days)

    r = await feed.api.call(
        "GET",
        f"/companies/{company_id}/export",
        params={"format": "csv", "table": "pendings"},
    )
    assert [row["id"] for row in csv.DictReader(io.StringIO(r.text))] == ["h1"]
    r = await feed.api.call(
        "GET",
        f"/companies/{company_id}/export",
        params={"format": "csv", "table": "balanceCertificates"},
    )
    assert {row["closing"] for row in csv.DictReader(io.StringIO(r.text))} >= {"85.00"}
