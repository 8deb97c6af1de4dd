"""HTTP for the portal's balance-certificate calendar of an account."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app import clock
from app.certificates import calendar
from app.kit.services import Services
from app.portal import status
from app.portal.pages import PageHandler, common, page
from app.portal.service import Staff

Wrap = Callable[[PageHandler], Callable[[Request], Awaitable[Response]]]


async def _calendar(
    request: Request, services: Services, session: AsyncSession, who: Staff
) -> Response:
    view = await status.account(
        session,
        who.principal,
        request.path_params["companyId"],
        request.path_params["accountPk"],
        None,
    )
    found = await calendar.calendar(session, view.account.pk, clock.now().date())
    return page(
        "portal/certificates.html",
        who.record.language,
        **common(who, request, section="status", view=view, calendar=found),
    )


def routes(signed_in: Wrap) -> list[Route]:
    account = "/portal/companies/{companyId}/accounts/{accountPk}"
    return [Route(account + "/certificates", signed_in(_calendar), methods=["GET"])]
