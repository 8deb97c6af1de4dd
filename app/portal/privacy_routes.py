"""HTTP for the portal's privacy page: the retention policy (overridable), the access log (who
read or exported a company's data; CSV), the destruction log; and a company's export."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from app.access import service as access
from app.companies import service as companies
from app.db import transaction
from app.exports import service as exports
from app.kit.services import Services
from app.portal.pages import SECURITY_HEADERS, PageHandler, common, page, redirect
from app.portal.service import Staff
from app.retention import repository as retention_log
from app.retention import schemas as retention_schemas
from app.retention import service as retention
from app.retention.rules import MAX_DAYS, MIN_DAYS, POLICIES
from app.spreadsheet import to_csv

Wrap = Callable[[PageHandler], Callable[[Request], Awaitable[Response]]]


async def record_view(
    session: AsyncSession, who: Staff, request: Request, company_id: Any, action: str
) -> None:
    """A staff member saw (or exported as CSV) a company's data: in the access log."""
    await access.record_access(
        session,
        who.tenant.id,
        who.record.environment,
        company_id,
        actor_kind="staff",
        actor=who.user.email,
        action=action,
        route=request.url.path,
    )


async def _privacy(
    request: Request, services: Services, session: AsyncSession, who: Staff, **extra: Any
) -> Response:
    policy = await retention.to_wire(session, who.tenant.id, services.settings)
    return page(
        "portal/privacy.html",
        who.record.language,
        extra.pop("status", 200),
        **common(
            who,
            request,
            section="privacy",
            policy=policy.model_dump(),
            policies=[
                (n, retention_schemas.WIRE[n], d)
                for n, d in retention.defaults(services.settings).items()
            ],
            accesses=await access.entries(session, who.tenant.id, who.record.environment),
            destructions=await retention_log.destruction_log(session, who.tenant.id, 50),
            saved=request.query_params.get("saved") == "1",
            min_days=MIN_DAYS,
            max_days=MAX_DAYS,
            **extra,
        ),
    )


async def _show(
    request: Request, services: Services, session: AsyncSession, who: Staff
) -> Response:
    return await _privacy(request, services, session, who)


async def _save(
    request: Request, services: Services, session: AsyncSession, who: Staff
) -> Response:
    form = await request.form()
    changes: dict[str, int | None] = {}
    invalid: list[str] = []
    for name in POLICIES:
        wire = retention_schemas.WIRE[name]
        raw = str(form.get(wire, "")).strip()
        if not raw:
            changes[wire] = None  # blank: back to the default
        elif raw.isdigit() and MIN_DAYS <= int(raw) <= MAX_DAYS:
            changes[wire] = int(raw)
        else:
            invalid.append(wire)
    if invalid:
        return await _privacy(request, services, session, who, status=400, invalid=invalid)
    await retention.update(session, who.tenant.id, services.settings, changes)
    return redirect("/portal/privacy?saved=1")


async def _access_csv(
    request: Request, services: Services, session: AsyncSession, who: Staff
) -> Response:
    rows = await access.entries(session, who.tenant.id, who.record.environment, limit=None)
    body = to_csv(
        ["at", "actorKind", "actor", "action", "route", "companyId"],
        ([e.at, e.actor_kind, e.actor, e.action, e.route, e.company_id] for e in rows),
    )
    headers = {**SECURITY_HEADERS, "Content-Disposition": 'attachment; filename="access-log.csv"'}
    return Response(body, media_type="text/csv; charset=utf-8", headers=headers)


async def _export(
    request: Request, services: Services, session: AsyncSession, who: Staff
) -> Response:
    """The company's whole export (the API's document), streamed; in the access log."""
    company = await companies.get(session, who.principal, request.path_params["companyId"])
    await record_view(session, who, request, company.id, "export")
    sessions, company_id = services.sessions, company.id

    async def body() -> AsyncIterator[bytes]:
        async with transaction(sessions) as reading:
            async for chunk in exports.json_chunks(reading, company_id):
                yield chunk

    name = f"company-{company_id}.json"
    headers = {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}
    return StreamingResponse(body(), media_type="application/json", headers=headers)


def routes(signed_in: Wrap) -> list[Route]:
    return [
        Route("/portal/privacy", signed_in(_show), methods=["GET"]),
        Route("/portal/privacy", signed_in(_save), methods=["POST"]),
        Route("/portal/privacy/access.csv", signed_in(_access_csv), methods=["GET"]),
        Route("/portal/companies/{companyId}/export", signed_in(_export), methods=["GET"]),
    ]
