"""The Link pages as the SMB meets them: a link URL made through the client API, and opening it
(a GET that spends nothing, then Start)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers.builders import v1_account, v2_account
from tests.helpers.clients import Api, hidden


async def link_url(api: Api, **account: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
    company = await api.company()
    connection = await api.connection(company["id"])
    base = (
        f"/companies/{company['id']}/connections/{connection['id']}/connectionInfo/bankFeedAccounts"
    )
    await api.call("POST", f"{base}/batch", [v1_account("chk-1", **account), v2_account("sav-2")])
    return connection["linkUrl"].replace("http://link.test", ""), company, connection


async def open_link(client: httpx.AsyncClient, url: str, **headers: str) -> httpx.Response:
    """What the SMB does: open the link (a GET that spends nothing), press Start (a POST)."""
    landing = await client.get(url, headers=headers)
    assert landing.status_code == 200, landing.text[:300]
    form = {name: hidden(landing.text, name) for name in ("csrf", "otp", "lang")}
    r = await client.post(url.split("?")[0], data=form, headers=headers)
    assert r.status_code == 303, r.text[:300]
    assert r.headers["location"] == "/link/connect"
    return r
