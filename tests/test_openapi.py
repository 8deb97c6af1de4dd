"""/openapi.json is valid OpenAPI 3.1 and covers every route; the official Codat SDK reads every
answer of the client API; the IDX operations are the reference's (tests/contracts)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from openapi_spec_validator import validate

from app.main import client_api, idx_api
from tests.contracts import assert_idx_valid, idx_document, idx_operations, request_examples, sdk
from tests.helpers.builders import TenantKeys, v1_account, v2_account
from tests.helpers.logs import remember_credentials

# Operations the spec lacks but clients need; documented in the README as extensions.
EXTENSIONS: set[tuple[str, str]] = {
    ("GET", "/settings/link"),
    ("PUT", "/settings/link"),
    ("PUT", "/settings/link/logo"),
    ("POST", "/webhooks/endpoints"),
    ("GET", "/webhooks/endpoints"),
    ("GET", "/webhooks/endpoints/{endpointId}"),
    ("DELETE", "/webhooks/endpoints/{endpointId}"),
    ("GET", "/webhooks/endpoints/{endpointId}/deliveries"),
    (
        "GET",
        "/companies/{companyId}/connections/{connectionId}/connectionInfo/bankFeedAccounts"
        "/{accountId}/bankTransactions",
    ),
    ("GET", "/companies/{companyId}/connections/{connectionId}/feedHealth"),
    (
        "GET",
        "/companies/{companyId}/connections/{connectionId}/connectionInfo/bankFeedAccounts"
        "/{accountId}/pulls",
    ),
    (
        "POST",
        "/companies/{companyId}/connections/{connectionId}/connectionInfo/bankFeedAccounts"
        "/{accountId}/reserve",
    ),
    ("GET", "/retention"),
    ("PATCH", "/retention"),
    ("GET", "/retention/destructions"),
    ("GET", "/companies/{companyId}/export"),
    *(
        (
            method,
            f"/companies/{{companyId}}/connections/{{connectionId}}/push/bankAccounts/{{accountId}}{tail}",
        )
        for method, tail in (
            ("POST", "/pendingTransactions"),
            ("GET", "/pendingTransactions"),
            ("GET", "/pendingTransactions/{pendingTransactionId}"),
            ("POST", "/pendingTransactions/{pendingTransactionId}/release"),
            ("GET", "/pendingLinks"),
            ("POST", "/bankTransactions/{transactionId}/reversal"),
        )
    ),
    ("GET", "/settings/pendingTransactions"),
    ("PUT", "/settings/pendingTransactions"),
    *(
        (
            method,
            "/companies/{companyId}/connections/{connectionId}/connectionInfo/bankFeedAccounts"
            f"/{{accountId}}/{tail}",
        )
        for method, tail in (
            ("POST", "balances"),
            ("GET", "balanceCertificates"),
            ("GET", "balanceCertificates/{date}"),
        )
    ),
    ("GET", "/settings/balances"),
    ("PUT", "/settings/balances"),
}


async def test_openapi_is_valid_and_covers_every_route(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    validate(doc)
    assert doc["openapi"] == "3.1.0"
    operations = client_api.operations + idx_api.operations
    served = {(op.method.lower(), op.path) for op in operations}
    documented = {(m, p) for p, item in doc["paths"].items() for m in item}
    assert served == documented
    create = doc["paths"]["/companies"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "CompanyRequestBody"
    )
    assert "400" in create["responses"] and "401" in create["responses"]


def test_every_operation_has_codats_operation_id_and_route() -> None:
    sdk_routes = sdk.operations()
    for op in client_api.operations:
        if (op.method, op.path) in EXTENSIONS:
            assert op.operation_id not in sdk_routes, f"{op.operation_id} is Codat's, not ours"
            continue
        assert sdk_routes.get(op.operation_id) == (op.method, op.path), op.operation_id
    idx_routes = {o["operationId"]: (o["method"], o["path"]) for o in idx_operations()}
    served = {
        op.operation_id: (op.method, op.path.removeprefix("/partners/intuit/idx"))
        for op in idx_api.operations
    }
    assert served == idx_routes


def test_the_idx_schemas_accept_the_references_own_examples() -> None:
    examples = idx_document()["x-examples"]
    assert set(examples) == {"IntuitAccounts", "IntuitTransactions", "ErrorMessage"}
    for definition, values in examples.items():
        assert values
        for value in values:
            assert_idx_valid(definition, value)
    with pytest.raises(AssertionError, match="accountType"):
        assert_idx_valid(
            "IntuitAccounts",
            {**examples["IntuitAccounts"][0], "results": [{"accountType": "brokerage"}]},
        )


async def test_the_official_sdk_reads_every_answer(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    codat = sdk.Sdk(client, tenant.headers)
    c = codat.client
    company = await codat.call(c.companies.create, request={"name": "Toft Stores"})
    ids = {"company_id": company.id}
    assert company.redirect and company.data_connections == []
    assert (await codat.call(c.companies.get, request=ids)).name == "Toft Stores"
    listed = await codat.call(c.companies.list, request={"page_size": 1})
    assert listed.total_results >= 1 and len(listed.results) == 1
    await codat.call(
        c.companies.update,
        request={**ids, "company_update_request": {"tags": {"region": "east"}}},
    )
    replaced = await codat.call(
        c.companies.replace,
        request={**ids, "company_request_body": {"name": "Toft Stores", "description": "d"}},
    )
    assert replaced.description == "d"

    connection = await codat.call(
        c.connections.create, request={**ids, "request_body": {"platform_key": "hcws"}}
    )
    ids["connection_id"] = connection.id
    assert connection.status.value == "PendingAuth" and connection.link_url
    assert (await codat.call(c.connections.get, request=ids)).id == connection.id
    assert (
        len((await codat.call(c.connections.list, request={"company_id": company.id})).results) == 1
    )

    v1 = await codat.call(
        c.source_accounts.create, request={**ids, "request_body": v1_account("v1")}
    )
    assert v1.id == "v1"
    batch = await codat.call(
        c.source_accounts.create_batch,
        request={**ids, "request_body": [v2_account("v2"), v2_account("v3")]},
    )
    assert [r.source_account_id for r in batch] == ["v2", "v3"]
    accounts = await codat.call(c.source_accounts.list, request=ids)
    assert sorted(a.id for a in accounts) == ["v1", "v2", "v3"]
    assert {type(a).__name__ for a in accounts} == {"SourceAccountV2"}, "one shape per list"
    # The SDK types this answer as v1 (SourceAccount), so a v1 account is what it can read.
    renamed = await codat.call(
        c.source_accounts.update,
        request={**ids, "account_id": "v1", "source_account": {"id": "v1", "accountName": "Ops"}},
    )
    assert renamed.account_name == "Ops"
    otp = await codat.call(c.source_accounts.generate_otp, request=ids)
    assert otp.otp and otp.expiry
    credentials = await codat.call(
        c.source_accounts.generate_credentials, request={**ids, "request_body": b""}
    )
    remember_credentials(credentials.username, credentials.password)
    await codat.call(c.source_accounts.delete, request={**ids, "account_id": "v3"})
    await codat.call(c.source_accounts.delete_credentials, request=ids)

    error = await codat.refused(c.companies.get, request={"company_id": str(uuid.uuid4())})
    assert error.data.status_code == 404 and error.data.correlation_id
    refused = await codat.refused(c.companies.create, request={"name": "<x>"})
    assert refused.data.status_code == 400

    unlinked = await codat.call(
        c.connections.unlink, request={**ids, "request_body": {"status": "Unlinked"}}
    )
    assert unlinked.status.value == "Unlinked"
    await codat.call(c.connections.delete, request=ids)
    await codat.call(c.companies.delete, request={"company_id": company.id})


async def test_the_specs_own_request_examples_are_accepted(
    client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    codat = sdk.Sdk(client, tenant.headers)
    c = codat.client
    for body in request_examples("create-company").values():
        made = await codat.call(c.companies.create, request=body)
        assert made.name == body["name"]
    ids = {"company_id": made.id}
    for body in request_examples("replace-company").values():
        await codat.call(c.companies.replace, request={**ids, "company_request_body": body})
    for body in request_examples("update-company").values():
        await codat.call(c.companies.update, request={**ids, "company_update_request": body})
    connection = await codat.call(
        c.connections.create, request={**ids, "request_body": {"platform_key": "hcws"}}
    )
    ids["connection_id"] = connection.id
    for body in request_examples("create-source-account").values():
        # Codat's examples are British; only the currency differs for a US business.
        made = await codat.call(
            c.source_accounts.create, request={**ids, "request_body": {**body, "currency": "USD"}}
        )
        assert made.account_number == body["accountNumber"]
    for body in request_examples("unlink-connection").values():
        await codat.call(c.connections.unlink, request={**ids, "request_body": body})
