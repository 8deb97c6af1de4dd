"""Portal isolation, generated from the portal's route table: another tenant's staff, signed in,
get 404 for every route naming this tenant's ids, and no page or export without ids shows any of
this tenant's data. A new portal route is walked automatically."""

from __future__ import annotations

import re
import secrets
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.routing import Route

from app.idx.jobs import send_all
from app.portal.routes import portal_routes
from tests.helpers.builders import TenantKeys
from tests.helpers.clients import Linkable
from tests.helpers.feeds import connect, day, tx
from tests.helpers.images import png
from tests.helpers.portal import Staff, add_user

# Routes anyone may fetch: they hold no tenant data.
PUBLIC = {"/portal", "/portal/sign-in", "/portal/branding/preview.css"}


async def test_no_portal_route_shows_another_tenants_data(
    app: Any,
    linkable: Linkable,
    tenant: TenantKeys,
    other_tenant: TenantKeys,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    api = linkable.api
    marker = f"victim-{secrets.token_hex(4)}"
    feed = await connect(linkable, start=day(-2))
    assert (await feed.push([tx(f"{marker}-tx", day(0))])).status_code == 200
    await send_all(sessions, 100)
    hook = f"https://{marker}.example.test/hook"
    assert (await api.call("POST", "/webhooks/endpoints", {"url": hook})).status_code == 201
    await api.call("PUT", "/settings/link", {"callout": {"en": {"title": marker, "body": "b"}}})
    logo = png(24, 8)  # stored re-encoded: the bytes served are looked for below
    r = await api.http.put(
        "/settings/link/logo", content=logo, headers={**api.headers, "Content-Type": "image/png"}
    )
    assert r.status_code == 200, r.text
    assert (await feed.push([tx(f"{marker}-2", day(0))])).status_code == 200
    await send_all(sessions, 100)  # a push-operation event, delivered to the victim's hook

    # The victim's own staff see the ids the intruder will try.
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://portal.test"
    ) as own_http:
        owner = Staff(own_http, *await add_user(sessions, tenant.name))
        assert (await owner.sign_in()).status_code == 303
        company_page = await owner.get(f"/portal/companies/{linkable.company['id']}")
        account_pk = re.search(r"/accounts/([0-9a-f-]{36})\"", company_page.text)
        hooks_page = await owner.get("/portal/webhooks")
        delivery = re.search(r"/deliveries/([0-9a-f-]{36})/resend", hooks_page.text)
        assert account_pk and delivery, "the owner sees the data the walk needs"
        own_logo = await owner.get("/portal/branding/logo")
        assert own_logo.content.startswith(b"\x89PNG"), "the owner's logo route serves it"
        own_settings = (await api.call("GET", "/settings/link")).json()
    ids = {
        "companyId": linkable.company["id"],
        "accountPk": account_pk.group(1),
        "deliveryId": delivery.group(1),
    }
    secrets_of_victim = [
        *(s.encode() for s in (marker, linkable.company["name"], linkable.connection["id"])),
        own_logo.content,
    ]

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://portal.test"
    ) as http:
        intruder = Staff(http, *await add_user(sessions, other_tenant.name))
        assert (await intruder.sign_in()).status_code == 303
        walked = 0
        for route in portal_routes:
            if not isinstance(route, Route) or route.path in PUBLIC:
                continue
            names = re.findall(r"{(\w+)}", route.path)
            path = route.path
            for name in names:
                assert name in ids, f"no victim id for {{{name}}} in {route.path}: add one"
                path = path.replace(f"{{{name}}}", ids[name])
            for method in sorted(route.methods or ()):
                if method == "HEAD" or path == "/portal/sign-out":
                    continue
                if method == "GET":
                    r = await intruder.get(path)
                else:
                    r = await intruder.post(path)
                walked += 1
                if names:
                    assert r.status_code == 404, f"{method} {route.path}: {r.status_code}"
                for secret in secrets_of_victim:
                    shown = secret in r.content  # bytes: the logo route answers an image
                    assert not shown, f"{method} {route.path} shows {secret[:40]!r}"
        assert walked >= 12

    # And nothing of the victim's changed: branding, deliveries.
    assert (await api.call("GET", "/settings/link")).json() == own_settings
