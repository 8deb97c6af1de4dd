"""HTTP for the portal's feed health page and re-serve (confirm, then do)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.kit.errors import BadRequest
from app.kit.services import Services
from app.pendings import views as pending_views
from app.portal import charts, feed_health, status
from app.portal.pages import PageHandler, common, page
from app.portal.service import Staff

Wrap = Callable[[PageHandler], Callable[[Request], Awaitable[Response]]]


async def _overview(
    request: Request, services: Services, session: AsyncSession, who: Staff
) -> Response:
    view = await feed_health.overview(session, who.principal)
    old_holds = await pending_views.old_holds(session, who.principal, status.LIMIT)
    return page(
        "portal/feed_health.html",
        who.record.language,
        **common(
            who,
            request,
            section="feeds",
            view=view,
            bar_chart=charts.daily_bars,
            days=status.CHART_DAYS,
            limit=status.LIMIT,
            stale_after=services.settings.stale_after_hours,
            old_holds=old_holds,
            hold_days=pending_views.STALE_HOLD_DAYS,
        ),
    )


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


async def _reserve(
    request: Request, services: Services, session: AsyncSession, who: Staff
) -> Response:
    """First POST: how many would be re-published, and a Confirm button. The confirmed POST
    re-publishes them, audited under the staff member's email."""
    view = await status.account(
        session,
        who.principal,
        request.path_params["companyId"],
        request.path_params["accountPk"],
        None,
    )
    form = await request.form()
    first, last = _date(form.get("from")), _date(form.get("to"))
    error = result = None
    bad: tuple[str, ...] = ()
    if first is None or last is None:
        error = "dates"
        bad = tuple(f for f, v in (("reserve-from", first), ("reserve-to", last)) if v is None)
    else:
        try:
            result = await feed_health.reserve(
                session,
                who.principal,
                view,
                first,
                last,
                who.user.email,
                confirmed=form.get("confirm") == "yes",
            )
        except BadRequest:
            error, bad = "range", ("reserve-from", "reserve-to")
    return page(
        "portal/reserve.html",
        who.record.language,
        400 if error else 200,
        **common(
            who,
            request,
            section="status",
            view=view,
            result=result,
            error=error,
            bad=bad,
            # What was typed comes back in the form (only ISO dates are echoed).
            first=first.isoformat() if first else "",
            last=last.isoformat() if last else "",
        ),
    )


def routes(signed_in: Wrap) -> list[Route]:
    account = "/portal/companies/{companyId}/accounts/{accountPk}"
    return [
        Route("/portal/feed-health", signed_in(_overview), methods=["GET"]),
        Route(account + "/reserve", signed_in(_reserve), methods=["POST"]),
    ]
