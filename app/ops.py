"""The operations endpoints: /healthz, /readyz and /metrics, whose gauges are read from the
database at scrape time (the truth lives there, shared by every process)."""

from __future__ import annotations

import asyncio
import hmac
from datetime import UTC, datetime, time

from prometheus_client import CONTENT_TYPE_LATEST as PROMETHEUS_TYPE
from prometheus_client import generate_latest
from pydantic import SecretStr
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from app import i18n
from app import metrics as m
from app.accounts.tables import SourceAccount
from app.certificates import repository as certificates_repo
from app.companies.tables import Company
from app.connections.tables import Connection
from app.jobruns.repository import all_runs
from app.kit.errors import Unauthorized, render
from app.kit.services import Services
from app.transactions import send_repository
from app.transactions.tables import PushOperation
from app.webhooks.tables import WebhookDelivery


async def home(request: Request) -> Response:
    """What runs here, for someone who opens the server's address in a browser."""
    asked = request.query_params.get("lang")
    language = (
        asked if asked in i18n.LOCALES else i18n.negotiate(request.headers.get("accept-language"))
    )
    page = i18n.environment(language).get_template("home.html").render()
    return HTMLResponse(page, headers={"Content-Language": language})


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready while the database answers: that is all a push needs. Redis being away degrades
    the process (rate limits fail open, jobs wait) but does not take it out of service."""
    services: Services = request.app.state.services
    try:
        async with asyncio.timeout(2):
            async with services.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        database = "ok"
    except Exception as exc:  # a probe answers, whatever the failure
        database = f"unavailable ({type(exc).__name__})"
    redis = "ok" if await redis_up(services.redis) else "degraded"
    if database != "ok":
        status, code = "unavailable", 503
    else:
        status, code = ("ok" if redis == "ok" else "degraded"), 200
    return JSONResponse({"status": status, "database": database, "redis": redis}, code)


async def _refresh(session: AsyncSession) -> None:
    m.PENDING.set(await send_repository.count_pending(session))
    accounts, gaps, oldest = await certificates_repo.totals(session)
    m.BALANCE_GAP_ACCOUNTS.set(accounts)
    m.BALANCE_GAP_DAYS.set(gaps)
    m.BALANCE_OLDEST_UNCERTIFIED.set(
        datetime.combine(oldest, time(), UTC).timestamp() if oldest else 0
    )
    m.STALE.clear()
    stale = (
        select(Company.tenant_id, func.count())
        .select_from(SourceAccount)
        .join(Connection, Connection.id == SourceAccount.connection_id)
        .join(Company, Company.id == Connection.company_id)
        .where(SourceAccount.status == "connected", SourceAccount.stale_since.is_not(None))
        .group_by(Company.tenant_id)
    )
    for tenant, count in (await session.execute(stale)).all():
        m.STALE.labels(str(tenant)).set(count)
    for gauge, column in (
        (m.ACCOUNTS, SourceAccount.status),
        (m.DELIVERIES, WebhookDelivery.status),
        (m.OPERATIONS, PushOperation.status),
    ):
        gauge.clear()
        rows = (await session.execute(select(column, func.count()).group_by(column))).all()
        for status, count in rows:
            gauge.labels(status).set(count)


async def _refresh_jobs(session: AsyncSession) -> None:
    """Each job's last run, from the database (see doctor.recorded): a Redis restart does not
    erase it, and runs made with `bankfeeds jobs run` count."""
    for name, last in (await all_runs(session)).items():
        m.JOB_LAST_RUN.labels(name).set(last.finished_at.timestamp())
        m.JOB_DURATION.labels(name).set(last.seconds)
        m.JOB_LAST_FAILED.labels(name).set(0 if last.outcome == "ok" else 1)
        if name == "daily_send" and last.outcome == "ok":
            m.DAILY_SEND_TRANSACTIONS.set(int(last.result.get("transactions", 0)))
            m.DAILY_SEND_ACCOUNTS.set(int(last.result.get("accounts", 0)))
            m.DAILY_SEND_FAILED.set(int(last.result.get("failed", 0)))


async def redis_up(redis: Redis) -> bool:
    """Probe Redis briefly and keep the answer in bankfeeds_redis_up."""
    try:
        await asyncio.wait_for(redis.ping(), timeout=1)
        up = True
    except (TimeoutError, OSError, RedisError):
        up = False
    m.REDIS_UP.set(1 if up else 0)
    return up


def _allowed(request: Request, token: SecretStr | None) -> bool:
    if token is None:
        return True  # then expose /metrics only to the monitoring network
    sent = request.headers.get("authorization", "").encode()
    return hmac.compare_digest(sent, f"Bearer {token.get_secret_value()}".encode())


async def metrics(request: Request) -> Response:
    services = request.app.state.services
    if not _allowed(request, services.settings.metrics_token):
        refused = Unauthorized("Unauthorized: /metrics needs `Authorization: Bearer <token>`.")
        refused.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return render(refused)
    async with services.sessions() as session:
        await _refresh(session)
        await _refresh_jobs(session)
    await redis_up(services.redis)
    return Response(generate_latest(m.REGISTRY), media_type=PROMETHEUS_TYPE)
