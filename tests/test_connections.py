"""Connections: hcws only, a linkUrl with a fresh 60-minute single-use OTP, unlink, delete."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import clock
from app.connections.tables import LinkOtp
from app.tenants.service import digest
from tests.helpers.clients import Api


def otp_of(link_url: str) -> str | None:
    values = parse_qs(urlparse(link_url).query).get("otp")
    return values[0] if values else None


async def test_create_connection_answers_codat_shape_with_link(api: Api) -> None:
    company = await api.company()
    clock.freeze(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    connection = await api.connection(company["id"])
    assert connection["integrationKey"] == "hcws"
    assert connection["platformName"] == "QuickBooks Online Bank Feeds"
    assert connection["sourceType"] == "BankFeed"
    assert connection["status"] == "PendingAuth"
    assert connection["created"] == "2026-03-02T12:00:00Z"
    url = urlparse(connection["linkUrl"])
    assert url.netloc == "link.test"
    assert url.path == f"/companies/{company['id']}/connections/{connection['id']}/start"
    assert otp_of(connection["linkUrl"])


async def test_otp_is_stored_hashed_with_60_minute_expiry(
    api: Api, sessions: async_sessionmaker[AsyncSession]
) -> None:
    company = await api.company()
    at = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    clock.freeze(at)
    connection = await api.connection(company["id"])
    otp = otp_of(connection["linkUrl"])
    assert otp is not None
    async with sessions() as session:
        row = (
            await session.execute(select(LinkOtp).where(LinkOtp.otp_hash == digest(otp)))
        ).scalar_one()
        plain = (await session.execute(select(LinkOtp).where(LinkOtp.otp_hash == otp))).first()
    assert plain is None, "the OTP itself is never stored"
    assert row.expires_at == at + timedelta(minutes=60)
    assert row.used_at is None


async def test_get_issues_a_fresh_otp_and_list_carries_none(api: Api) -> None:
    company = await api.company()
    connection = await api.connection(company["id"])
    path = f"/companies/{company['id']}/connections/{connection['id']}"
    first = (await api.call("GET", path)).json()
    second = (await api.call("GET", path)).json()
    assert otp_of(first["linkUrl"]) != otp_of(second["linkUrl"])
    assert otp_of(first["linkUrl"]) != otp_of(connection["linkUrl"])
    listed = (await api.call("GET", f"/companies/{company['id']}/connections")).json()
    assert listed["totalResults"] == 1
    assert otp_of(listed["results"][0]["linkUrl"]) is None


async def test_generate_otp_endpoint(api: Api) -> None:
    company = await api.company()
    connection = await api.connection(company["id"])
    clock.freeze(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    path = f"/companies/{company['id']}/connections/{connection['id']}/bankFeeds/otp"
    r = await api.call("POST", path)
    assert r.status_code == 200
    assert r.json()["expiry"] == "2026-03-02T13:00:00Z"
    assert len(r.json()["otp"]) >= 24


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"platformKey": "gbol"}, 400, "Unknown platform key 'gbol'"),
        ({"platformKey": "HCWS"}, 400, "platformKey"),
        ({"platformKey": "hcwsx"}, 400, "platformKey"),
        ({"platformKey": 1234}, 400, "platformKey"),
        ({}, 400, "platformKey"),
    ],
)
async def test_bad_platform_keys(
    api: Api, body: dict[str, Any], status: int, fragment: str
) -> None:
    company = await api.company()
    r = await api.call("POST", f"/companies/{company['id']}/connections", body)
    assert r.status_code == status
    assert fragment in r.text
    listed = (await api.call("GET", f"/companies/{company['id']}/connections")).json()
    assert listed["totalResults"] == 0


async def test_unlink_and_delete(api: Api) -> None:
    company = await api.company()
    connection = await api.connection(company["id"])
    path = f"/companies/{company['id']}/connections/{connection['id']}"

    r = await api.call("PATCH", path, {"status": "Linked"})
    assert r.status_code == 400
    assert "only be set to Unlinked" in r.json()["error"]
    r = await api.call("PATCH", path, {"status": "Unlinked", "extra": 1})
    assert r.status_code == 400, "the unlink body allows no other property"
    assert (await api.call("GET", path)).json()["status"] == "PendingAuth"

    r = await api.call("PATCH", path, {"status": "Unlinked"})
    assert r.status_code == 200
    assert r.json()["status"] == "Unlinked"
    assert (await api.call("GET", path)).json()["status"] == "Unlinked"

    r = await api.call("DELETE", path)
    assert r.status_code == 200
    r = await api.call("GET", path)
    assert r.status_code == 404
    assert r.json()["error"] == f"Data connection {connection['id']} not found"


async def test_connections_page_and_filter(api: Api) -> None:
    company = await api.company()
    ids = [(await api.connection(company["id"]))["id"] for _ in range(3)]
    base = f"/companies/{company['id']}/connections"
    page = (await api.call("GET", base, params={"pageSize": 2, "page": 2})).json()
    assert page["totalResults"] == 3
    assert [c["id"] for c in page["results"]] == ids[2:]
    await api.call("PATCH", f"{base}/{ids[0]}", {"status": "Unlinked"})
    unlinked = (await api.call("GET", base, params={"query": "status=Unlinked"})).json()
    assert [c["id"] for c in unlinked["results"]] == [ids[0]]


async def test_other_tenants_connection_is_404(api: Api, other_api: Api) -> None:
    company = await api.company()
    connection = await api.connection(company["id"])
    path = f"/companies/{company['id']}/connections/{connection['id']}"
    assert (await other_api.call("GET", path)).status_code == 404
    assert (await other_api.call("PATCH", path, {"status": "Unlinked"})).status_code == 404
    assert (await other_api.call("DELETE", path)).status_code == 404
    assert (await other_api.call("POST", f"{path}/bankFeeds/otp")).status_code == 404
    r = await other_api.call(
        "POST", f"/companies/{company['id']}/connections", {"platformKey": "hcws"}
    )
    assert r.status_code == 404
    r = await other_api.call("GET", f"/companies/{company['id']}/connections")
    assert r.status_code == 404
    assert (await api.call("GET", path)).json()["status"] == "PendingAuth"


async def test_connection_under_another_company_is_404(api: Api) -> None:
    one = await api.company("One")
    two = await api.company("Two")
    connection = await api.connection(one["id"])
    r = await api.call("GET", f"/companies/{two['id']}/connections/{connection['id']}")
    assert r.status_code == 404
