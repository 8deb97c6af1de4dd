"""Companies: CRUD, paging, filters, the name pattern, tags limits, tenant and environment scope."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.helpers.clients import Api


async def test_create_read_update_replace_delete(api: Api) -> None:
    r = await api.call(
        "POST",
        "/companies",
        {"name": "Toft Stores", "description": "Hardware", "tags": {"region": "us"}},
    )
    assert r.status_code == 200
    company = r.json()
    assert company["name"] == "Toft Stores"
    assert company["description"] == "Hardware"
    assert company["tags"] == {"region": "us"}
    assert company["dataConnections"] == []
    assert company["products"] == ["bank-feeds"]
    assert "timeZone" not in company, "Codat's shape by default"
    assert company["created"].endswith("Z")
    path = f"/companies/{company['id']}"
    opted = {**api.headers, "Bankfeeds-Include": "timeZone"}
    assert (await api.http.get(path, headers=opted)).json()["timeZone"] == "America/Toronto"

    fetched = (await api.call("GET", path)).json()
    redirect = f"http://link.test/companies/{company['id']}/link?otp="
    assert company["redirect"].startswith(redirect) and fetched["redirect"].startswith(redirect)
    assert fetched["redirect"] != company["redirect"], "each answer carries a fresh OTP"
    assert {**fetched, "redirect": None} == {**company, "redirect": None}

    r = await api.call("PATCH", path, {"tags": {"team": "risk"}})
    assert r.status_code == 200
    assert r.json()["name"] == "Toft Stores"
    assert r.json()["description"] == "Hardware"
    assert r.json()["tags"] == {"team": "risk"}

    r = await api.call("PUT", path, {"name": "Toft Holdings"})
    assert r.status_code == 200
    assert r.json()["name"] == "Toft Holdings"
    assert r.json()["description"] is None, "PUT replaces: an absent description is cleared"
    assert r.json()["tags"] == {}

    r = await api.http.patch(path, json={"timeZone": "America/Vancouver"}, headers=opted)
    assert r.json()["timeZone"] == "America/Vancouver"

    assert (await api.call("DELETE", path)).status_code == 204
    r = await api.call("GET", path)
    assert r.status_code == 404
    assert r.json()["error"] == f"No company was found with ID {company['id']}"


async def test_delete_cascades_to_connections_and_accounts(api: Api) -> None:
    company = await api.company()
    connection = await api.connection(company["id"])
    base = f"/companies/{company['id']}/connections/{connection['id']}"
    r = await api.call(
        "POST", f"{base}/connectionInfo/bankFeedAccounts", {"id": "a1", "currency": "USD"}
    )
    assert r.status_code == 200
    assert (await api.call("DELETE", f"/companies/{company['id']}")).status_code == 204
    assert (await api.call("GET", base)).status_code == 404


async def test_company_shows_its_connections(api: Api) -> None:
    company = await api.company()
    connection = await api.connection(company["id"])
    got = (await api.call("GET", f"/companies/{company['id']}")).json()
    assert [c["id"] for c in got["dataConnections"]] == [connection["id"]]
    assert got["dataConnections"][0]["status"] == "PendingAuth"


async def test_paging_links_and_order(api: Api) -> None:
    for name in ("Alpha", "Bravo", "Charlie"):
        await api.company(name)
    r = await api.call("GET", "/companies", params={"page": 1, "pageSize": 2})
    page = r.json()
    assert page["pageNumber"] == 1
    assert page["pageSize"] == 2
    assert page["totalResults"] == 3
    assert [c["name"] for c in page["results"]] == ["Alpha", "Bravo"]
    assert page["_links"]["self"]["href"] == "/companies"
    assert page["_links"]["current"]["href"] == "/companies?page=1&pageSize=2"
    assert page["_links"]["next"]["href"] == "/companies?page=2&pageSize=2"
    assert "previous" not in page["_links"]

    page2 = (await api.call("GET", "/companies", params={"page": 2, "pageSize": 2})).json()
    assert [c["name"] for c in page2["results"]] == ["Charlie"]
    assert "next" not in page2["_links"]
    assert page2["_links"]["previous"]["href"] == "/companies?page=1&pageSize=2"

    desc = (await api.call("GET", "/companies", params={"orderBy": "-name"})).json()
    assert [c["name"] for c in desc["results"]] == ["Charlie", "Bravo", "Alpha"]


async def test_query_and_tags_filters(api: Api) -> None:
    await api.call("POST", "/companies", {"name": "Acme East", "tags": {"region": "us"}})
    await api.call("POST", "/companies", {"name": "Acme West", "tags": {"region": "ca"}})
    await api.call("POST", "/companies", {"name": "Bolt", "tags": {"region": "us"}})

    async def names(**params: Any) -> list[str]:
        r = await api.call("GET", "/companies", params=params)
        assert r.status_code == 200, r.text
        return sorted(c["name"] for c in r.json()["results"])

    assert await names(query="name~Acme") == ["Acme East", "Acme West"]
    assert await names(query="name=Bolt||name=Acme West") == ["Acme West", "Bolt"]
    assert await names(tags="region=us") == ["Acme East", "Bolt"]
    assert await names(query="name~Acme", tags="region=us") == ["Acme East"]
    assert await names(query="name!=Bolt && tags.region=ca") == ["Acme West"]


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"query": "colour=red"}, "Could not resolve property colour"),
        ({"query": "name"}, "Malformed query"),
        ({"query": "created>yesterday"}, "ISO-8601"),
        ({"orderBy": "-secret"}, "orderBy"),
        ({"page": 0}, "query string is not valid"),
        ({"pageSize": 5001}, "query string is not valid"),
        ({"pageSize": "ten"}, "query string is not valid"),
    ],
)
async def test_bad_list_parameters_are_400(api: Api, params: dict[str, Any], fragment: str) -> None:
    r = await api.call("GET", "/companies", params=params)
    assert r.status_code == 400
    assert fragment in r.text


@pytest.mark.parametrize(
    ("body", "item"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "Café <script>"}, "name"),
        ({"name": 42}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"name": "Ok", "description": 7}, "description"),
        ({"name": "Ok", "tags": {"k" * 28: "v"}}, "tags"),
        ({"name": "Ok", "tags": {"k": "v" * 101}}, "tags.k"),
        ({"name": "Ok", "tags": {f"k{i}": "v" for i in range(11)}}, "tags"),
        ({"name": "Ok", "timeZone": "Mars/Olympus"}, "timeZone"),
    ],
)
async def test_invalid_company_bodies(api: Api, body: dict[str, Any], item: str) -> None:
    r = await api.call("POST", "/companies", body)
    assert r.status_code == 400, r.text
    errors = r.json()["validation"]["errors"]
    assert any(e["itemId"].startswith(item) for e in errors), errors
    listed = (await api.call("GET", "/companies")).json()
    assert listed["totalResults"] == 0, "a rejected create stores nothing"


async def test_name_pattern_accepts_the_specs_punctuation(api: Api) -> None:
    r = await api.call("POST", "/companies", {"name": "Bob's Tools, Inc. & Co - @home?!"})
    assert r.status_code == 200, r.text


async def test_invalid_update_leaves_company_untouched(api: Api) -> None:
    company = await api.company("Steady")
    path = f"/companies/{company['id']}"
    r = await api.call("PATCH", path, {"name": "Bad<name>", "description": "changed"})
    assert r.status_code == 400
    r = await api.call("PUT", path, {"description": "no name"})
    assert r.status_code == 400
    got = (await api.call("GET", path)).json()
    assert got["name"] == "Steady"
    assert got["description"] is None


async def test_other_tenant_sees_404_everywhere(api: Api, other_api: Api) -> None:
    company = await api.company()
    path = f"/companies/{company['id']}"
    for method, body in (
        ("GET", None),
        ("PATCH", {"name": "Hijack"}),
        ("PUT", {"name": "Hijack"}),
        ("DELETE", None),
    ):
        r = await other_api.call(method, path, body)
        assert r.status_code == 404, (method, r.text)
    assert (await other_api.call("GET", "/companies")).json()["totalResults"] == 0
    assert (await api.call("GET", path)).json()["name"] == "Toft Stores"


async def test_sandbox_and_production_never_cross(api: Api, client: Any, tenant: Any) -> None:
    sandbox = Api(client, tenant.sandbox_headers)
    company = await api.company("Live Co")
    assert (await sandbox.call("GET", f"/companies/{company['id']}")).status_code == 404
    assert (await sandbox.call("GET", "/companies")).json()["totalResults"] == 0
    test_company = await sandbox.company("Test Co")
    names = [c["name"] for c in (await api.call("GET", "/companies")).json()["results"]]
    assert names == ["Live Co"]
    assert (await api.call("GET", f"/companies/{test_company['id']}")).status_code == 404


async def test_malformed_company_id_is_404(api: Api) -> None:
    r = await api.call("GET", "/companies/not-a-uuid")
    assert r.status_code == 404
    assert r.json()["statusCode"] == 404


@pytest.mark.parametrize(
    "name", ["Café Dupont", "Société Générale Ltée", "Ωmega Ltd", "Zürich Bäckerei", "Ångström AB"]
)
async def test_accented_names_of_any_alphabet_are_accepted(api: Api, name: str) -> None:
    company = await api.company(name)
    assert company["name"] == name
    path = f"/companies/{company['id']}"
    renamed = await api.call("PATCH", path, {"name": f"{name} Ltée"})
    assert renamed.status_code == 200 and renamed.json()["name"] == f"{name} Ltée"


async def test_a_refused_name_names_its_characters_not_the_pattern(api: Api, client: Any) -> None:
    r = await api.call("POST", "/companies", {"name": "Café <Dupont> 😀"})
    assert r.status_code == 400
    [error] = r.json()["validation"]["errors"]
    assert error["itemId"] == "name"
    assert "'<', '>', '😀'" in error["message"]
    assert "^" not in error["message"] and "\\u" not in error["message"]
    # The published pattern is the rule the API applies (fuzzing relies on it).
    doc = (await client.get("/openapi.json")).json()
    pattern = doc["components"]["schemas"]["CompanyRequestBody"]["properties"]["name"]["pattern"]
    for name, accepted in (("Café Dupont", True), ("Bad<name>", False), ("東京商事", True)):
        assert bool(re.fullmatch(pattern, name)) is accepted, name
