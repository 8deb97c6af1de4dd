"""Errors: the ErrorMessage shape everywhere, auth, malformed JSON, body cap, faults."""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.companies import service as companies_service
from app.config import Settings
from app.db import transaction
from app.logs import ContextFilter, JsonFormatter
from app.main import create_app
from app.tenants import service as tenants
from app.tenants.tables import ApiKey
from tests.helpers.builders import TenantKeys
from tests.helpers.clients import Api, assert_error, basic


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer abc",
        "Basic",
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"bfk_live_unknown").decode(),
        "Basic " + base64.b64encode(b"key with spaces").decode(),
    ],
)
async def test_bad_credentials_are_401(client: httpx.AsyncClient, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    r = await client.get("/companies", headers=headers)
    body = assert_error(r, 401)
    assert "Authorization: Basic base64(API_KEY)" in body["error"]
    assert r.headers["www-authenticate"].startswith("Basic")


async def test_revoked_key_is_401_at_once(
    client: httpx.AsyncClient, tenant: TenantKeys, sessions: async_sessionmaker[AsyncSession]
) -> None:
    assert (await client.get("/companies", headers=tenant.headers)).status_code == 200
    async with transaction(sessions) as session:
        key_id = (
            await session.execute(
                select(ApiKey.id).where(ApiKey.key_hash == tenants.digest(tenant.api_key))
            )
        ).scalar_one()
        await tenants.revoke_api_key(session, tenant.name, str(key_id))
    assert_error(await client.get("/companies", headers=tenant.headers), 401)
    assert (await client.get("/companies", headers=tenant.sandbox_headers)).status_code == 200


async def test_api_keys_are_stored_only_as_digests(
    tenant: TenantKeys, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session:
        rows = (await session.execute(select(ApiKey.key_hash, ApiKey.prefix))).all()
    stored = " ".join(f"{h} {p}" for h, p in rows)
    assert tenant.api_key not in stored
    assert tenants.digest(tenant.api_key) in stored


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b'{"name": "x",', "line 1 column 14"),
        (b"{'name': 'x'}", "Expecting property name"),
        (b'{"name": NaN}', "NaN is not a JSON number"),
        (b"[1, 2", "Malformed JSON"),
        (b"\xff\xfe", "Malformed JSON"),
        (b'{"name": "a\\u0000b"}', "NUL characters"),
        # Unpaired surrogates are not text PostgreSQL (or anyone) can store: as an escape, in
        # a key; as UTF-8-style bytes (which Python's JSON reader would let through) the body
        # is not UTF-8, nor is UTF-16 (which it would also read), NUL inside or not.
        (b'{"name": "caf\\ud800"}', "Unpaired UTF-16 surrogates"),
        (b'{"name": "x", "\\udc00": 1}', "Unpaired UTF-16 surrogates"),
        (b'{"name": "caf\xed\xa0\x80"}', "not UTF-8"),
        ('{"name": "a\x00b"}'.encode("utf-16"), "not UTF-8"),
    ],
)
async def test_malformed_json_is_400_with_where(api: Api, raw: bytes, fragment: str) -> None:
    r = await api.http.post(
        "/companies", content=raw, headers={**api.headers, "Content-Type": "application/json"}
    )
    body = assert_error(r, 400)
    assert fragment in body["error"]
    assert (await api.call("GET", "/companies")).json()["totalResults"] == 0


async def test_a_surrogate_pair_is_text(api: Api) -> None:
    r = await api.http.post(
        "/companies",
        content=b'{"name": "Bank", "description": "Bank \\ud83c\\udfe6"}',
        headers={**api.headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["description"] == "Bank \U0001f3e6"


async def test_missing_body_and_wrong_media_type(api: Api) -> None:
    r = await api.http.post("/companies", headers=api.headers)
    assert "body is required" in assert_error(r, 400)["error"]
    r = await api.http.post(
        "/companies", content=b"name=x", headers={**api.headers, "Content-Type": "text/plain"}
    )
    assert_error(r, 415)


async def test_wrong_types_list_every_failing_field(api: Api) -> None:
    r = await api.call("POST", "/companies", {"name": 5, "description": [], "tags": "x"})
    errors = assert_error(r, 400)["validation"]["errors"]
    assert {e["itemId"] for e in errors} == {"name", "description", "tags"}
    assert all(e["message"] and e["validatorName"] for e in errors)


async def test_body_over_the_cap_is_413(api: Api, settings: Settings) -> None:
    big = {"name": "Big", "description": "x" * (settings.max_body_bytes + 10)}
    assert_error(await api.call("POST", "/companies", big), 413)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "Big", "description": "'
        for _ in range(settings.max_body_bytes // 1000 + 2):
            yield b"x" * 1000
        yield b'"}'

    r = await api.http.post(
        "/companies", content=chunks(), headers={**api.headers, "Content-Type": "application/json"}
    )
    assert "limit is" in assert_error(r, 413)["error"]
    assert (await api.call("GET", "/companies")).json()["totalResults"] == 0


async def test_unknown_route_and_method_use_the_error_shape(api: Api) -> None:
    assert_error(await api.call("GET", "/nothing/here"), 404)
    r = await api.call("POST", "/healthz")
    assert_error(r, 405)
    assert set(r.headers["allow"].split(", ")) == {"GET", "HEAD"}


async def test_correlation_id_is_logged(api: Api) -> None:
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        r = await api.call("POST", "/companies", {"name": "<bad>"})
    finally:
        root.removeHandler(handler)
    cid = assert_error(r, 400)["correlationId"]
    logged = [json.loads(line) for line in lines.getvalue().splitlines()]
    mine = [line for line in logged if line["correlationId"] == cid]
    assert any(line.get("status") == 400 for line in mine), logged
    assert any("request rejected" in line["msg"] for line in mine)


async def test_unexpected_failure_is_500_without_details(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("SELECT secret FROM vault")

    monkeypatch.setattr(companies_service, "create", boom)
    caplog.set_level(logging.INFO)
    r = await api.call("POST", "/companies", {"name": "Fine"})
    body = assert_error(r, 500)
    assert "secret" not in r.text
    assert body["canBeRetried"] == "Unknown"
    logged = "\n".join(rec.getMessage() for rec in caplog.records)
    assert "unhandled RuntimeError at" in logged
    assert "SELECT secret" not in logged
    assert not any(rec.exc_info for rec in caplog.records), "no traceback is logged"


async def test_database_down_is_503_retryable(settings: Settings, tenant: TenantKeys) -> None:
    down = settings.model_copy(
        update={"database_url": "postgresql+asyncpg://nobody@127.0.0.1:1/none", "db_schema": None}
    )
    application = create_app(down)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as c:
            r = await c.get("/companies", headers=basic(tenant.api_key))
            body = assert_error(r, 503)
            assert body["canBeRetried"] == "True"
            ready = await c.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["database"].startswith("unavailable")
            assert ready.json()["redis"] == "ok"


async def test_health_and_ready(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    r = await client.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok", "redis": "ok"}
