"""Builders of what tests start from: a tenant (made through the service, its keys remembered
as secrets) and the bodies of v1 and v2 source accounts."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import transaction
from app.tenants import service as tenants
from tests.helpers.clients import Api, Idx, basic
from tests.helpers.logs import remember_secret


@dataclass
class TenantKeys:
    id: str
    name: str
    api_key: str
    sandbox_key: str
    partner_keys: dict[str, str]

    @property
    def headers(self) -> dict[str, str]:
        return basic(self.api_key)

    @property
    def sandbox_headers(self) -> dict[str, str]:
        return basic(self.sandbox_key)


async def make_tenant(sessions: async_sessionmaker[AsyncSession], **kw: Any) -> TenantKeys:
    name = f"Tenant {secrets.token_hex(4)}"
    async with transaction(sessions) as session:
        made = await tenants.create_tenant(
            session, name, kw.get("time_zone", "America/Toronto"), 10
        )
    remember_secret(*made.api_keys.values(), *made.partner_keys.values())
    return TenantKeys(
        str(made.tenant.id),
        made.tenant.name,
        made.api_keys["production"],
        made.api_keys["sandbox"],
        made.partner_keys,
    )


def created_tenant(output: str) -> dict[str, Any]:
    """The JSON `tenants create --json` printed, its API and partner keys remembered as secrets."""
    made: dict[str, Any] = json.loads(output)
    remember_secret(made.get("apiKey"), made.get("sandboxApiKey"), *made["partnerKeys"].values())
    return made


def v1_account(account_id: str = "acc-1", **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": account_id,
        "accountName": "Business Checking",
        "accountType": "Debit",
        "accountNumber": "12345670",
        "sortCode": "021001088",
        "currency": "USD",
        "balance": 1234.56,
    }
    body.update(kw)
    return body


def v2_account(account_id: str = "acc-2", **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": account_id,
        "accountName": "Savings",
        "accountType": "savings",
        "accountNumber": "23456789",
        "routingInfo": {"bankCode": "021001088", "type": "aba"},
        "currency": "CAD",
        "balance": 400,
        "accountInfo": {"nickname": "Rainy day", "accountOpenDate": "2023-05-23"},
    }
    body.update(kw)
    return body


async def linked_on(http: httpx.AsyncClient, sessions: Any) -> tuple[Idx, Api]:
    """A tenant with a connection, an account and a set of credentials, seen through `http`."""
    tenant = await make_tenant(sessions)
    api = Api(http, tenant.headers)
    company = await api.company()
    connection = await api.connection(company["id"])
    base = f"/companies/{company['id']}/connections/{connection['id']}"
    r = await api.call("POST", f"{base}/connectionInfo/bankFeedAccounts", v1_account("chk-1"))
    assert r.status_code == 200, r.text
    r = await api.call("POST", f"{base}/connectionInfo/bankFeedAccounts/credentials")
    body = r.json()
    return Idx(http, body["username"], body["password"], tenant.partner_keys["production"]), api
