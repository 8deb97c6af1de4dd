"""The client portal over HTTP: sign-in, lock-out, CSRF, sign-out, branding with preview, sync
status drill-down with filters, CSV exports and the chart, webhook resend."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import clock
from app.idx.jobs import send_all
from app.lifecycle.housekeeping import purge_expired
from tests.helpers.builders import TenantKeys
from tests.helpers.clients import Linkable, csrf_of, metric_value
from tests.helpers.feeds import NOW, Feed, connect, day, tx
from tests.helpers.images import png
from tests.helpers.logs import request_log
from tests.helpers.portal import Staff

PNG = png()


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# ---- sign-in ------------------------------------------------------------------------------


async def test_pages_need_a_sign_in(portal_client: httpx.AsyncClient) -> None:
    r = await portal_client.get("/portal/companies?status=Linked")
    assert r.status_code == 303
    assert r.headers["location"] == "/portal/sign-in?next=%2Fportal%2Fcompanies%3Fstatus%3DLinked"
    form = await portal_client.get("/portal/sign-in")
    assert form.status_code == 200
    assert "default-src 'none'" in form.headers["content-security-policy"]
    assert form.headers["x-frame-options"] == "DENY"
    assert 'name="password"' in form.text


async def test_sign_in_sets_a_strict_cookie_and_follows_next(staff: Staff) -> None:
    r = await staff.sign_in(next="/portal/webhooks")
    assert r.status_code == 303
    assert r.headers["location"] == "/portal/webhooks"
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("bf_portal="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/portal" in cookie
    assert staff.password not in cookie


@pytest.mark.parametrize("target", ["//evil.test/x", "https://evil.test/", "/link/connect"])
async def test_next_never_leaves_the_portal(staff: Staff, target: str) -> None:
    r = await staff.sign_in(next=target)
    assert r.headers["location"] == "/portal/companies"


async def test_portal_requests_log_the_tenant(signed_in: Staff, tenant: TenantKeys) -> None:
    assert (await signed_in.get("/portal/branding")).status_code == 200
    line = request_log("/portal/branding")
    assert line["tenant"] == tenant.id and line["status"] == 200


async def test_wrong_password_unknown_user_and_lock_out_look_alike(staff: Staff) -> None:
    clock.freeze(NOW)
    failures = "bankfeeds_auth_failures_total"
    before = metric_value((await staff.http.get("/metrics")).text, failures, surface="portal")
    wrong = await staff.sign_in(password="not the password")
    stranger = Staff(staff.http, "nobody@example.test", "whatever-password")
    unknown = await stranger.sign_in()
    for _ in range(4):
        await staff.sign_in(password="not the password")
    locked = await staff.sign_in()  # the right password, during the lock-out
    assert wrong.status_code == unknown.status_code == locked.status_code == 401
    alert = re.compile(r'<div class="error-summary" role="alert".*?</div>', re.S)
    said = {alert.search(r.text).group(0) for r in (wrong, unknown, locked)}  # type: ignore[union-attr]
    assert len(said) == 1, "the same words whatever went wrong"
    assert "The e-mail address or the password is not right." in said.pop()
    for r in (wrong, unknown, locked):
        assert "bf_portal=" not in r.headers.get("set-cookie", "")
    after = metric_value((await staff.http.get("/metrics")).text, failures, surface="portal")
    assert after - before == 7, "every refused sign-in is counted, locked or not"


async def test_lock_out_after_repeated_failures_then_recovery(staff: Staff) -> None:
    clock.freeze(NOW)
    for _ in range(5):
        assert (await staff.sign_in(password="wrong-password")).status_code == 401
    right_but_locked = await staff.sign_in()
    assert right_but_locked.status_code == 401
    clock.shift(timedelta(minutes=14))
    assert (await staff.sign_in()).status_code == 401, "still locked at 14 minutes"
    clock.shift(timedelta(minutes=2))
    assert (await staff.sign_in()).status_code == 303, "unlocked after 15 minutes"


async def test_sign_in_needs_its_csrf_cookie(staff: Staff) -> None:
    page = await staff.http.get("/portal/sign-in")
    token = csrf_of(page.text)
    staff.http.cookies.clear()
    r = await staff.http.post(
        "/portal/sign-in", data={"csrf": token, "email": staff.email, "password": staff.password}
    )
    assert r.status_code == 403
    assert "bf_portal=" not in r.headers.get("set-cookie", "")


async def test_after_sign_in_the_filters_asked_for_are_kept(staff: Staff) -> None:
    r = await staff.http.get("/portal/companies?status=Linked")
    form = await staff.http.get(r.headers["location"])
    assert 'name="next" value="/portal/companies?status=Linked"' in form.text
    assert "?lang=fr&amp;next=/portal/companies%3Fstatus%3DLinked" in form.text
    signed = await staff.sign_in(next="/portal/companies?status=Linked")
    assert signed.headers["location"] == "/portal/companies?status=Linked"


async def test_a_forged_non_ascii_token_is_refused_not_a_crash(signed_in: Staff) -> None:
    r = await signed_in.http.post("/portal/preferences", data={"csrf": "é" * 10, "lang": "fr"})
    assert r.status_code == 403


async def test_every_form_checks_csrf(signed_in: Staff) -> None:
    for path in ("/portal/branding", "/portal/preferences", "/portal/sign-out"):
        r = await signed_in.http.post(path, data={"csrf": "forged", "lang": "fr"})
        assert r.status_code == 403, path
    still = await signed_in.get("/portal/companies")
    assert still.status_code == 200, "a forged sign-out did not sign out"
    assert 'lang="en"' in still.text, "a forged language change changed nothing"


async def test_sign_out_ends_the_session(signed_in: Staff) -> None:
    cookie = signed_in.http.cookies.get("bf_portal", path="/portal")
    r = await signed_in.post("/portal/sign-out")
    assert r.status_code == 303
    signed_in.http.cookies.set("bf_portal", cookie or "", path="/portal")
    again = await signed_in.get("/portal/companies")
    assert again.status_code == 303, "the old cookie no longer signs anyone in"


async def test_session_expires(signed_in: Staff) -> None:
    clock.shift(timedelta(hours=8, minutes=1))
    assert (await signed_in.get("/portal/companies")).status_code == 303


async def test_language_and_environment_preferences(signed_in: Staff, api: Any) -> None:
    await api.company("Boulangerie Tremblay")
    r = await signed_in.post("/portal/preferences", {"lang": "fr", "back": "/portal/companies"})
    assert r.headers["location"] == "/portal/companies"
    page = await signed_in.get("/portal/companies")
    assert 'lang="fr-CA"' in page.text and "État de la synchronisation" in page.text
    assert "Boulangerie Tremblay" in page.text
    await signed_in.post("/portal/preferences", {"environment": "sandbox"})
    sandbox = await signed_in.get("/portal/companies")
    assert "Boulangerie Tremblay" not in sandbox.text, "production data is not in sandbox"


# ---- branding -----------------------------------------------------------------------------


def branding_form(**kw: str) -> dict[str, str]:
    form = {
        "title_en": "Need help?",
        "body_en": "Call us at 1-800-555-0100.",
        "title_fr": "Besoin d'aide?",
        "body_fr": "Appelez-nous au 1-800-555-0100.",
        "accent": "#8a1c7c",
        "action": "save",
    }
    form.update(kw)
    return form


async def test_branding_save_reaches_the_link_api(signed_in: Staff, api: Any) -> None:
    r = await signed_in.post("/portal/branding", branding_form(body_en="Line one\r\nline two"))
    assert r.status_code == 303
    saved = (await api.call("GET", "/settings/link")).json()
    assert saved["callout"]["en"] == {"title": "Need help?", "body": "Line one\nline two"}
    assert saved["callout"]["fr"]["title"] == "Besoin d'aide?"
    assert saved["accentColor"] == "#8a1c7c"
    page = await signed_in.get(r.headers["location"])
    assert "Saved." in page.text
    assert 'value="Need help?"' in page.text


async def test_branding_preview_saves_nothing(signed_in: Staff, api: Any) -> None:
    before = (await api.call("GET", "/settings/link")).json()
    r = await signed_in.post(
        "/portal/branding", branding_form(action="preview", title_fr="", body_fr="")
    )
    assert r.status_code == 200
    assert "nothing is saved yet" in r.text
    assert "preview.css?accent=%238a1c7c" in r.text
    # Both previews carry the English note: French falls back to it when left empty.
    assert r.text.count('<p class="pv-title">Need help?</p>') == 2
    assert "Configurer les flux bancaires de QuickBooks" in r.text, "the French preview is French"
    assert (await api.call("GET", "/settings/link")).json() == before


async def test_branding_limits_are_shown_and_enforced(signed_in: Staff, api: Any) -> None:
    page = await signed_in.get("/portal/branding")
    assert 'maxlength="50"' in page.text and 'maxlength="150"' in page.text
    assert "0 of 50 characters" in page.text
    before = (await api.call("GET", "/settings/link")).json()
    r = await signed_in.post("/portal/branding", branding_form(title_en="x" * 51))
    assert r.status_code == 400
    assert 'aria-invalid="true"' in r.text and "at most 50 characters." in r.text
    r = await signed_in.post("/portal/branding", branding_form(title_en="", body_en=""))
    assert r.status_code == 400, "a French note needs the English one"
    r = await signed_in.post("/portal/branding", branding_form(accent="red"))
    assert r.status_code == 400
    assert (await api.call("GET", "/settings/link")).json() == before


async def test_preview_css_only_takes_a_colour(portal_client: httpx.AsyncClient) -> None:
    good = await portal_client.get("/portal/branding/preview.css", params={"accent": "#ffee00"})
    assert "--accent: #ffee00; --on-accent: #000000" in good.text
    bad = await portal_client.get("/portal/branding/preview.css", params={"accent": "red;}*{x:y"})
    assert "red" not in bad.text and "--accent: #0b6e4f" in bad.text


async def test_logo_upload_with_the_api_checks(signed_in: Staff, api: Any) -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    r = await signed_in.post(
        "/portal/branding/logo", files={"logo": ("logo.png", svg, "image/png")}
    )
    assert r.status_code == 415 and "SVG and other types are refused" in r.text
    big = PNG + b"\x00" * (256 * 1024)
    r = await signed_in.post("/portal/branding/logo", files={"logo": ("big.png", big, "image/png")})
    assert r.status_code == 413
    assert (await api.call("GET", "/settings/link")).json().get("logo") is None
    r = await signed_in.post("/portal/branding/logo", files={"logo": ("l.png", PNG, "image/png")})
    assert r.status_code == 303
    logo = await signed_in.get("/portal/branding/logo")
    assert logo.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(logo.content)).size == (16, 16), "a re-encoded copy of it"
    stored = (await api.call("GET", "/settings/link")).json()["logo"]["sizeBytes"]
    assert stored == len(logo.content)


# ---- sync status ----------------------------------------------------------------------------


async def fed(linkable: Linkable, sessions: async_sessionmaker[AsyncSession]) -> Feed:
    """A connected account with two sent and one pending transaction, and a warning."""
    feed = await connect(linkable, start=day(-3))
    r = await feed.push([tx("t-1", day(-2)), tx("t-2", day(-1), "12.00", transactionType="Debit")])
    assert r.status_code == 200, r.text
    await send_all(sessions, 100)
    clock.shift(timedelta(hours=1))
    r = await feed.push([tx("=cmd|' /C calc'!A0", day(0), description='=HYPERLINK("x")')])
    assert r.status_code == 200, r.text
    return feed


async def test_drill_down_companies_to_transactions(
    signed_in: Staff, linkable: Linkable, sessions: async_sessionmaker[AsyncSession]
) -> None:
    feed = await fed(linkable, sessions)
    company = linkable.company
    listing = await signed_in.get("/portal/companies")
    assert company["name"] in listing.text
    assert f'href="/portal/companies/{company["id"]}"' in listing.text

    page = await signed_in.get(f"/portal/companies/{company['id']}")
    assert page.status_code == 200
    assert linkable.connection["id"] in page.text and "Linked" in page.text
    assert "chk-1" in page.text and "connected" in page.text
    assert "March 7, 2026" in page.text, "the feed start date"
    accounts = rows_of(
        (await signed_in.get(f"/portal/companies/{company['id']}/accounts.csv")).text
    )
    checking = next(a for a in accounts if a["accountId"] == "chk-1")
    assert (checking["pending"], checking["sent"], checking["feedStartDate"]) == ("1", "2", day(-3))
    assert checking["lastQueriedOnUtc"].startswith("2026-03-10T15:00")
    # The push with a sign/type mismatch shows its warning.
    assert "t-2" in page.text and "TransactionType" in page.text

    pk = page.text.split(f"/portal/companies/{company['id']}/accounts/")[1].split('"')[0]
    detail = await signed_in.get(f"/portal/companies/{company['id']}/accounts/{pk}")
    assert detail.status_code == 200
    assert "<svg" in detail.text and 'aria-hidden="true"' in detail.text
    # The same numbers as a table behind a visible toggle: today's row.
    assert "<details>" in detail.text and "Show the numbers as a table" in detail.text
    today = r'<th scope="row" class="nowrap">March 10, 2026</th><td class="num">3</td>'
    assert re.search(today + r'<td class="num">2</td>', detail.text)
    assert "2026-03-10: Accepted 3" in detail.text, "the chart counts the day's acceptances"
    assert "2026-03-10: Sent 2" in detail.text
    assert "t-1" in detail.text and "pending" in detail.text and "sent" in detail.text

    pending = rows_of(
        (
            await signed_in.get(
                f"/portal/companies/{company['id']}/accounts/{pk}/transactions.csv",
                state="pending",
            )
        ).text
    )
    assert [t["transactionId"] for t in pending] == ["'=cmd|' /C calc'!A0"]
    assert pending[0]["description"] == '\'=HYPERLINK("x")', "formulas are defused"
    assert pending[0]["sentOnUtc"] == "" and pending[0]["pushOperationKey"]
    everything = await signed_in.get(
        f"/portal/companies/{company['id']}/accounts/{pk}/transactions.csv"
    )
    assert everything.headers["content-disposition"].startswith("attachment;")
    assert len(rows_of(everything.text)) == 3
    assert feed.account_id == "chk-1"


async def test_a_company_shows_its_newest_connections_status(signed_in: Staff, api: Any) -> None:
    company = await api.company("Two Connections Ltd")
    first = await api.connection(company["id"])
    r = await api.call(
        "PATCH", f"/companies/{company['id']}/connections/{first['id']}", {"status": "Unlinked"}
    )
    assert r.status_code == 200, r.text
    clock.shift(timedelta(seconds=5))
    await api.connection(company["id"])
    waiting = rows_of((await signed_in.get("/portal/companies.csv", status="PendingAuth")).text)
    assert "Two Connections Ltd" in [c["name"] for c in waiting]
    unlinked = rows_of((await signed_in.get("/portal/companies.csv", status="Unlinked")).text)
    assert "Two Connections Ltd" not in [c["name"] for c in unlinked]


async def test_filters_and_csv_match_the_screen(
    signed_in: Staff, linkable: Linkable, sessions: async_sessionmaker[AsyncSession], api: Any
) -> None:
    await fed(linkable, sessions)
    await api.company("No Connection Inc")
    company = linkable.company
    linked = await signed_in.get("/portal/companies", status="Linked")
    assert company["name"] in linked.text and "No Connection Inc" not in linked.text
    exported = rows_of((await signed_in.get("/portal/companies.csv", status="Linked")).text)
    assert [r["name"] for r in exported] == [company["name"]]
    none = rows_of((await signed_in.get("/portal/companies.csv", status="none")).text)
    assert [r["name"] for r in none] == ["No Connection Inc"]

    base = f"/portal/companies/{company['id']}"
    connected = rows_of((await signed_in.get(f"{base}/accounts.csv", account="connected")).text)
    assert [r["accountId"] for r in connected] == ["chk-1"]
    waiting = rows_of((await signed_in.get(f"{base}/accounts.csv", account="connecting")).text)
    assert [r["accountId"] for r in waiting] == ["sav-2"]
    ops = rows_of((await signed_in.get(f"{base}/push.csv")).text)
    assert [o["status"] for o in ops] == ["Pending", "Success"], "newest first"
    success = rows_of((await signed_in.get(f"{base}/push.csv", push="Success")).text)
    assert len(success) == 1 and success[0]["transactions"] == "2"
    assert "t-2" in success[0]["warnings"]
    page = await signed_in.get(base, push="Success")
    assert page.text.count('class="badge pending"') == 0
    unknown_filter = await signed_in.get(base, push="Bogus")
    assert unknown_filter.status_code == 200, "an unknown filter value means all"


# ---- webhooks -------------------------------------------------------------------------------


async def test_webhook_deliveries_and_resend(
    signed_in: Staff, linkable: Linkable, sessions: async_sessionmaker[AsyncSession]
) -> None:
    api = linkable.api
    r = await api.call("POST", "/webhooks/endpoints", {"url": "https://example.test/hook"})
    endpoint = r.json()["id"]
    await fed(linkable, sessions)
    page = await signed_in.get("/portal/webhooks")
    assert "https://example.test/hook" in page.text
    assert r.json()["secret"] not in page.text, "the signing secret is never shown again"
    before = (await api.call("GET", f"/webhooks/endpoints/{endpoint}/deliveries")).json()
    first = before["results"][-1]["id"]
    assert f"/portal/webhooks/deliveries/{first}/resend" in page.text
    r = await signed_in.post(f"/portal/webhooks/deliveries/{first}/resend")
    assert r.status_code == 303 and r.headers["location"] == "/portal/webhooks?resent=1"
    after = (await api.call("GET", f"/webhooks/endpoints/{endpoint}/deliveries")).json()
    assert after["totalResults"] == before["totalResults"] + 1
    newest = after["results"][0]
    assert newest["eventId"] == before["results"][-1]["eventId"]
    assert newest["status"] == "pending" and newest["attempts"] == []


async def test_rejected_pushes_are_noted_once_for_support(
    signed_in: Staff, linkable: Linkable, sessions: async_sessionmaker[AsyncSession]
) -> None:
    feed = await connect(linkable, start=day(-3))
    bad = [tx("r-1", day(1)), tx("r-2", day(-1), "0.001")]
    key = {"Idempotency-Key": "rejected-once"}
    for _ in range(2):  # the retry is answered from the idempotency store: no second note
        r = await feed.push(bad, headers=key)
        assert r.status_code == 400
    clock.shift(timedelta(minutes=1))
    assert (await feed.push([tx("r-3", day(-9))])).status_code == 400
    company = linkable.company["id"]
    page = await signed_in.get(f"/portal/companies/{company}")
    assert "NoFutureDates" in page.text and "r-1" in page.text and "r-2" in page.text
    notes = rows_of((await signed_in.get(f"/portal/companies/{company}/rejections.csv")).text)
    assert [n["transactions"] for n in notes] == ["1", "2"], "newest first, one per push"
    assert "r-1: " in notes[1]["errors"] and "(NoFutureDates)" in notes[1]["errors"]
    accounts = rows_of((await signed_in.get(f"/portal/companies/{company}/accounts.csv")).text)
    assert all(a["pending"] == "0" for a in accounts), "a rejected push stores no transaction"
    clock.shift(timedelta(days=31))
    await purge_expired({"sessions": sessions})
    signed_in_again = await signed_in.sign_in()
    assert signed_in_again.status_code == 303
    later = rows_of((await signed_in.get(f"/portal/companies/{company}/rejections.csv")).text)
    assert later == [], "notes go after 30 days"


async def test_times_are_the_tenants_with_utc_on_hover(signed_in: Staff, api: Any) -> None:
    """A company made at 15:00 UTC in March shows 11:00 EDT (the tenant is in Toronto); the
    <time> element carries the UTC instant and the UTC reading on hover."""
    clock.freeze(datetime(2026, 3, 10, 15, 0, tzinfo=UTC))
    await api.company("Zoned Stores")
    page = (await signed_in.get("/portal/companies")).text
    stamp = re.search(
        r'<time datetime="2026-03-10T15:00:00\+00:00" title="([^"]+)">([^<]+)</time>', page
    )
    assert stamp, page
    spaced = [re.sub(r"[\u00a0\u202f]", " ", stamp.group(n)) for n in (1, 2)]
    assert spaced == ["Mar 10, 2026, 3:00 PM UTC", "Mar 10, 2026, 11:00 AM EDT"]
    date_part, time_part = stamp.group(2).rsplit(", ", 1)
    assert " " not in date_part and " " not in time_part, "each part stays on one line"
