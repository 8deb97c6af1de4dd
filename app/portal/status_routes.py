"""HTTP for the portal's sync status: lists, drill-down, per-account chart and CSV exports.

Each CSV export takes the same filters as its page and holds exactly the rows shown there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.kit.services import Services
from app.pendings import views as pending_views
from app.portal import charts, feed_health, messages, privacy_routes, status
from app.portal.pages import SECURITY_HEADERS, PageHandler, common, page
from app.portal.service import Staff

Wrap = Callable[[PageHandler], Callable[[Request], Awaitable[Response]]]


def _csv(body: str, name: str) -> Response:
    headers = {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}
    return Response(body, media_type="text/csv; charset=utf-8", headers=headers)


def _filter(request: Request, name: str, allowed: tuple[str, ...]) -> str | None:
    return status.choice(request.query_params.get(name), allowed)


async def _companies(
    request: Request, services: Services, session: AsyncSession, who: Staff
) -> Response:
    chosen = _filter(request, "status", (*status.CONNECTION_STATUSES, "none"))
    rows = await status.companies(session, who.principal, chosen)
    if request.url.path.endswith(".csv"):
        return _csv(status.companies_csv(rows), "companies.csv")
    return page(
        "portal/companies.html",
        who.record.language,
        **common(
            who,
            request,
            section="status",
            rows=rows,
            chosen=chosen,
            statuses=status.CONNECTION_STATUSES,
            query=request.url.query,
            limit=status.LIMIT,
        ),
    )


async def _company(
    request: Request, services: Services, session: AsyncSession, who: Staff
) -> Response:
    account_status = _filter(request, "account", status.ACCOUNT_STATUSES)
    push_status = _filter(request, "push", status.PUSH_STATUSES)
    view = await status.company(
        session, who.principal, request.path_params["companyId"], account_status, push_status
    )
    path = request.url.path
    await privacy_routes.record_view(
        session, who, request, view.company.id, "export" if path.endswith(".csv") else "view"
    )
    if path.endswith("/accounts.csv"):
        return _csv(status.accounts_csv(view), "accounts.csv")
    if path.endswith("/push.csv"):
        return _csv(status.operations_csv(view), "push-operations.csv")
    if path.endswith("/rejections.csv"):
        return _csv(status.rejections_csv(view), "rejected-pushes.csv")
    return page(
        "portal/company.html",
        who.record.language,
        **common(
            who,
            request,
            section="status",
            view=view,
            account_status=account_status,
            push_status=push_status,
            account_statuses=status.ACCOUNT_STATUSES,
            push_statuses=status.PUSH_STATUSES,
            query=request.url.query,
            limit=status.LIMIT,
            notes=lambda items: messages.notes(items, who.record.language),
            failure=lambda text: messages.failure(text, who.record.language),
        ),
    )


async def _account(
    request: Request, services: Services, session: AsyncSession, who: Staff
) -> Response:
    state = _filter(request, "state", status.DELIVERY_STATES)
    view = await status.account(
        session,
        who.principal,
        request.path_params["companyId"],
        request.path_params["accountPk"],
        state,
    )
    csv_asked = request.url.path.endswith(".csv")
    await privacy_routes.record_view(
        session, who, request, view.company.id, "export" if csv_asked else "view"
    )
    if csv_asked:
        return _csv(status.transactions_csv(view), "transactions.csv")
    pulls = await feed_health.account_pulls(session, view.account)
    holds = await pending_views.holds_view(session, view.account, status.LIMIT)
    return page(
        "portal/account.html",
        who.record.language,
        **common(
            who,
            request,
            section="status",
            view=view,
            bar_chart=charts.daily_bars,
            days=status.CHART_DAYS,
            state=state,
            states=status.DELIVERY_STATES,
            pulls=pulls,
            holds=holds,
            query=request.url.query,
            limit=status.LIMIT,
        ),
    )


def routes(signed_in: Wrap) -> list[Route]:
    company = "/portal/companies/{companyId}"
    account = company + "/accounts/{accountPk}"
    return [
        Route("/portal/companies", signed_in(_companies), methods=["GET"]),
        Route("/portal/companies.csv", signed_in(_companies), methods=["GET"]),
        Route(company, signed_in(_company), methods=["GET"]),
        Route(company + "/accounts.csv", signed_in(_company), methods=["GET"]),
        Route(company + "/push.csv", signed_in(_company), methods=["GET"]),
        Route(company + "/rejections.csv", signed_in(_company), methods=["GET"]),
        Route(account, signed_in(_account), methods=["GET"]),
        Route(account + "/transactions.csv", signed_in(_account), methods=["GET"]),
    ]
