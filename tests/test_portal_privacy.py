"""The portal's privacy page: staff views and exports of a company land in the access log
(viewable and exportable there), the company's whole export downloads, and the retention
policy is overridden from a form."""

from __future__ import annotations

import csv
import io
import json

from tests.helpers.clients import Linkable
from tests.helpers.portal import Staff


async def test_staff_views_and_exports_are_in_the_access_log(
    signed_in: Staff,
    linkable: Linkable,
) -> None:
    company_id = linkable.company["id"]
    base = f"/portal/companies/{company_id}"
    assert (await signed_in.get(base)).status_code == 200
    assert (await signed_in.get(f"{base}/accounts.csv")).status_code == 200
    r = await signed_in.get(f"{base}/export")
    assert r.status_code == 200, r.text
    assert "attachment" in r.headers["content-disposition"]
    doc = json.loads(r.content)
    assert doc["schema"] == "bankfeeds.company-export" and doc["company"]["id"] == company_id
    assert {a["id"] for a in doc["accounts"]} == {"chk-1", "sav-2"}
    assert [e["action"] for e in doc["audit"]["accessLog"]] == ["view", "export", "export"]
    assert {e["actor"] for e in doc["audit"]["accessLog"]} == {signed_in.email}

    page = await signed_in.get("/portal/privacy")
    assert page.status_code == 200
    assert signed_in.email in page.text and "Exported" in page.text and "Viewed" in page.text
    assert company_id in page.text
    r = await signed_in.get("/portal/privacy/access.csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    mine = [row for row in rows if row["companyId"] == company_id]
    assert [(row["actor"], row["action"]) for row in reversed(mine)] == [
        (signed_in.email, "view"),
        (signed_in.email, "export"),
        (signed_in.email, "export"),
    ]


async def test_the_retention_policy_is_overridden_from_the_portal(
    signed_in: Staff,
    linkable: Linkable,
) -> None:
    r = await signed_in.post("/portal/privacy", {"pullLogDays": "30", "auditDays": ""})
    assert r.status_code == 303, r.text
    policy = (await linkable.api.call("GET", "/retention")).json()
    assert policy["pullLogDays"] == 30 and policy["auditDays"] == 7 * 365 + 2
    assert policy["overridden"] == ["pullLogDays"]
    page = await signed_in.get("/portal/privacy", saved="1")
    assert "Retention policy saved." in page.text and 'value="30"' in page.text

    bad = await signed_in.post("/portal/privacy", {"pullLogDays": "0"})
    assert bad.status_code == 400 and 'aria-invalid="true"' in bad.text
    assert (await linkable.api.call("GET", "/retention")).json()["pullLogDays"] == 30
    forged = await signed_in.http.post("/portal/privacy", data={"csrf": "x", "pullLogDays": "9"})
    assert forged.status_code == 403
    assert (await linkable.api.call("GET", "/retention")).json()["pullLogDays"] == 30
