"""/openapi.json is valid OpenAPI 3.1, covers every route, and our wire matches Codat's spec."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from app.api import client_api
from app.idx.routes import idx_api
from tests.conftest import Api, v1_account, v2_account
from tests.reference import assert_valid, document

SPEC = "Codat-Bank-Feeds.yaml"
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


def test_every_operation_exists_in_codats_spec_with_its_operation_id() -> None:
    for api, name, prefix in (
        (client_api, SPEC, ""),
        (idx_api, "Codat-Intuit-IDX.yaml", "/partners/intuit/idx"),
    ):
        spec = document(name)
        for op in api.operations:
            if (op.method, op.path) in EXTENSIONS:
                continue
            path = op.path.removeprefix(prefix)
            item = spec["paths"].get(path, {}).get(op.method.lower())
            assert item is not None, f"{op.method} {op.path} is not in {name}"
            assert item["operationId"] == op.operation_id


async def test_responses_validate_against_codats_schemas(api: Api) -> None:
    company = await api.company()
    assert_valid(SPEC, "/components/schemas/Company", company)
    connection = await api.connection(company["id"])
    assert_valid(SPEC, "/components/schemas/Connection", connection)
    listed = (await api.call("GET", f"/companies/{company['id']}/connections")).json()
    assert_valid(SPEC, "/components/schemas/Connections", listed)
    companies = (await api.call("GET", "/companies", params={"pageSize": 1})).json()
    assert_valid(SPEC, "/components/schemas/Companies", companies)

    base = (
        f"/companies/{company['id']}/connections/{connection['id']}/connectionInfo/bankFeedAccounts"
    )
    v1 = (await api.call("POST", base, v1_account("v1"))).json()
    assert_valid(SPEC, "/components/schemas/SourceAccount", v1)
    v2 = (await api.call("POST", base, v2_account("v2"))).json()
    assert_valid(SPEC, "/components/schemas/SourceAccountV2", v2)
    batch = (await api.call("POST", f"{base}/batch", [v1_account("v1"), v2_account("v3")])).json()
    assert_valid(SPEC, "/components/schemas/SourceAccountBatchErrorResponse", batch[0])
    assert_valid(SPEC, "/components/schemas/SourceAccountV2BatchCreateResponse", batch[1])
    otp = (
        await api.call(
            "POST", f"/companies/{company['id']}/connections/{connection['id']}/bankFeeds/otp"
        )
    ).json()
    assert_valid(SPEC, "/components/schemas/GenerateOtpResponse", otp)

    error = (await api.call("POST", "/companies", {"name": "<x>"})).json()
    assert_valid(SPEC, "/components/schemas/ErrorMessage", error)


def _examples(path: str, method: str) -> list[Any]:
    body = document(SPEC)["paths"][path][method]["requestBody"]["content"]["application/json"]
    return [e["value"] for e in body.get("examples", {}).values()]


@pytest.mark.parametrize("method", ["post"])
async def test_the_specs_own_request_examples_are_accepted(api: Api, method: str) -> None:
    for example in _examples("/companies", method):
        r = await api.call("POST", "/companies", example)
        assert r.status_code == 200, (example, r.text)
    base = await api.accounts_path()
    path = "/companies/{companyId}/connections/{connectionId}/connectionInfo/bankFeedAccounts"
    for example in _examples(path, "post"):
        # Codat's examples are British; only the currency differs for a US business.
        r = await api.call("POST", base, {**example, "currency": "USD"})
        assert r.status_code == 200, (example, r.text)
        assert r.json()["accountNumber"] == example["accountNumber"]
