"""The suite's HTTP clients: the client API with a tenant's key (`Api`), QuickBooks' IDX API
with a set of credentials (`Idx`), a linkable connection (`Linkable`), and the checks every
answer gets (Codat's ErrorMessage, Codat's reference shapes, a /metrics sample)."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any

import httpx

from tests.contracts import codat
from tests.helpers.logs import (
    otp_in,
    remember_answered_secrets,
    remember_credentials,
    remember_secret,
)


def metric_value(text: str, name: str, **labels: str) -> float:
    """One sample of a /metrics answer (0 when it is absent), found by name and exact labels."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = (
        re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if labels else "") + r" ([0-9.e+]+)"
    )
    match = re.search(pattern, text)
    return float(match.group(1)) if match else 0.0


ERROR_KEYS = {
    "statusCode",
    "service",
    "error",
    "correlationId",
    "validation",
    "canBeRetried",
    "detailedErrorCode",
}


def assert_error(r: httpx.Response, status: int) -> dict[str, Any]:
    """The answer is Codat's ErrorMessage with this status and the response's correlation id."""
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == ERROR_KEYS
    assert body["statusCode"] == status
    assert body["correlationId"] == r.headers["x-correlation-id"]
    return body  # type: ignore[no-any-return]


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(key.encode()).decode()}


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, html[:500]
    return match.group(1)


@dataclass
class Api:
    """A thin client for tests: the tenant's headers on every call, JSON in and out."""

    http: httpx.AsyncClient
    headers: dict[str, str]

    async def call(self, method: str, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        r = await self.http.request(method, path, json=json, headers=self.headers, **kw)
        remember_answered_secrets(r)
        return r

    async def company(self, name: str = "Toft Stores") -> dict[str, Any]:
        r = await self.call("POST", "/companies", {"name": name})
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    async def connection(self, company_id: str) -> dict[str, Any]:
        r = await self.call("POST", f"/companies/{company_id}/connections", {"platformKey": "hcws"})
        assert r.status_code == 200, r.text
        remember_secret(otp_in(r.json()["linkUrl"]))
        return r.json()  # type: ignore[no-any-return]

    async def accounts_path(self) -> str:
        company = await self.company()
        connection = await self.connection(company["id"])
        base = f"/companies/{company['id']}/connections/{connection['id']}"
        return f"{base}/connectionInfo/bankFeedAccounts"


@dataclass
class Idx:
    """QuickBooks' side: the IDX API with a set of credentials and a partner key."""

    http: httpx.AsyncClient
    username: str
    password: str
    partner_key: str

    @property
    def headers(self) -> dict[str, str]:
        pair = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return {
            "Authorization": f"Basic {pair}",
            "X-Partner-Key": base64.b64encode(self.partner_key.encode()).decode(),
        }

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.http.get(
            f"/partners/intuit/idx{path}", params=params, headers=self.headers
        )


@dataclass
class Linkable:
    """A company, a connection with two source accounts, and a set of credentials."""

    api: Api
    company: dict[str, Any]
    connection: dict[str, Any]
    idx: Idx

    @property
    def connection_path(self) -> str:
        return f"/companies/{self.company['id']}/connections/{self.connection['id']}"

    @property
    def accounts_path(self) -> str:
        return f"{self.connection_path}/connectionInfo/bankFeedAccounts"

    async def new_credentials(self) -> Idx:
        r = await self.api.call("POST", f"{self.accounts_path}/credentials")
        assert r.status_code == 200, r.text
        body = r.json()
        remember_credentials(body["username"], body["password"])
        return Idx(self.idx.http, body["username"], body["password"], self.idx.partner_key)


async def codat_shapes(response: httpx.Response) -> None:
    """Every client-API answer the suite gets is checked against Codat's reference document,
    additional properties refused (tests/contracts/codat.py): a non-conforming answer fails the
    test that produced it (an event hook of the `client` fixture)."""
    if "json" not in response.headers.get("content-type", ""):
        return
    await response.aread()
    request = response.request
    if codat.OPT_IN_HEADER in request.headers:  # asked for our additions: not Codat's shape
        return
    codat.check_answer(request.method, request.url.path, response.status_code, response.content)
