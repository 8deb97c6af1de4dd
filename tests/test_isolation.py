"""Tenant isolation, generated from the route table: every client-API route that names a
resource answers 404 to another tenant's key, with valid bodies, and changes nothing. A new route
with a path id is walked automatically; one without an example body below fails the test."""

from __future__ import annotations

import re
from typing import Any

from app.main import client_api
from tests.helpers.builders import v1_account
from tests.helpers.clients import Api, Linkable
from tests.helpers.feeds import connect, day, tx
from tests.helpers.images import png

PNG = png()

BODIES: dict[str, Any] = {
    "replace-company": {"name": "Hijacked"},
    "update-company": {"name": "Hijacked"},
    "create-connection": {"platformKey": "hcws"},
    "unlink-connection": {"status": "Unlinked"},
    "create-source-account": v1_account("intruder"),
    "create-batch-source-account": [v1_account("intruder")],
    "update-source-account": {"accountName": "Hijacked"},
    "create-bank-transactions": {"accountId": "chk-1", "transactions": [tx("x1", day(0))]},
    "reserve-source-account-transactions": {"fromDate": day(-7), "toDate": day(0)},
    "create-pending-transactions": {
        "accountId": "chk-1",
        "transactions": [{"id": "h9", "authorizedDate": day(0), "amount": -1, "description": "x"}],
    },
    "release-pending-transaction": {"reason": "voided"},
    "reverse-bank-transaction": {},
    "create-source-account-balances": {"balances": [{"date": day(0), "closingBalance": 1}]},
}


async def test_every_route_with_an_id_is_404_to_another_tenant(
    linkable: Linkable, other_api: Api
) -> None:
    feed = await connect(linkable)
    pushed = (await feed.push([tx("mine", day(0))])).json()
    holds = f"{linkable.connection_path}/push/bankAccounts/chk-1/pendingTransactions"
    hold = {"id": "held-1", "authorizedDate": day(0), "amount": -5, "description": "Hold"}
    r = await linkable.api.call("POST", holds, {"accountId": "chk-1", "transactions": [hold]})
    assert r.status_code == 201, r.text
    endpoint = (
        await linkable.api.call("POST", "/webhooks/endpoints", {"url": "https://example.test/hook"})
    ).json()
    ids = {
        "companyId": linkable.company["id"],
        "connectionId": linkable.connection["id"],
        "accountId": "chk-1",
        "pushOperationKey": pushed["pushOperationKey"],
        "endpointId": endpoint["id"],
        "pendingTransactionId": "held-1",
        "transactionId": "mine",
        "date": day(0),
    }
    walked = 0
    for op in client_api.operations:
        names = re.findall(r"{(\w+)}", op.path)
        if not names:
            continue
        path = op.path
        for name in names:
            assert name in ids, f"no victim id for {{{name}}} in {op.path}: add one above"
            path = path.replace(f"{{{name}}}", ids[name])
        kwargs: dict[str, Any] = {}
        if op.raw_types:
            kwargs = {
                "content": PNG,
                "headers": {**other_api.headers, "Content-Type": op.raw_types[0]},
            }
            r = await other_api.http.request(op.method, path, **kwargs)
        else:
            body = None
            if op.body is not None:
                assert op.operation_id in BODIES, f"add an example body for {op.operation_id}"
                body = BODIES[op.operation_id]
            r = await other_api.call(op.method, path, body)
        assert r.status_code == 404, f"{op.method} {op.path}: {r.status_code} {r.text[:200]}"
        assert r.json()["statusCode"] == 404
        walked += 1
    assert walked >= 20

    # Nothing of the victim changed.
    api = linkable.api
    assert (await api.call("GET", f"/companies/{ids['companyId']}")).json()["name"] == "Toft Stores"
    assert (await api.call("GET", linkable.connection_path)).json()["status"] == "Linked"
    accounts = (await api.call("GET", linkable.accounts_path)).json()
    assert sorted(a["id"] for a in accounts) == ["chk-1", "sav-2"]
    assert accounts[0]["accountName"] == "Business Checking"
    listed = (await api.call("GET", f"{linkable.accounts_path}/chk-1/bankTransactions")).json()
    assert [t["id"] for t in listed["results"]] == ["mine"]
    held = (await api.call("GET", f"{holds}/held-1")).json()
    assert (held["status"], held["amount"]) == ("held", -5.0)
    assert (await api.call("GET", f"/webhooks/endpoints/{ids['endpointId']}")).status_code == 200

    # Collections are the caller's own: the victim's rows never show up in them.
    assert (await other_api.call("GET", "/companies")).json()["totalResults"] == 0
    assert (await other_api.call("GET", "/webhooks/endpoints")).json()["results"] == []
    assert (await other_api.call("GET", "/settings/link")).json()["callout"] is None
