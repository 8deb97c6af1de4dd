"""Prometheus metrics (prometheus-client): counters and histograms the API process updates, and
gauges read from the database at scrape time (the truth lives there, shared by every process)."""

from __future__ import annotations

import asyncio
import hmac

from prometheus_client import CONTENT_TYPE_LATEST as PROMETHEUS_TYPE
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from pydantic import SecretStr
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from app.errors import Unauthorized, render

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "bankfeeds_http_requests_total",
    "HTTP requests by route template, method and status.",
    ["route", "method", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "bankfeeds_http_request_duration_seconds",
    "HTTP request duration by route template.",
    ["route", "method"],
    registry=REGISTRY,
    buckets=(0.002, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
PUSHES = Counter(
    "bankfeeds_pushes_total",
    "Pushes by outcome (accepted, rejected).",
    ["outcome"],
    registry=REGISTRY,
)
PUSHED_TRANSACTIONS = Counter(
    "bankfeeds_pushed_transactions_total", "Transactions accepted in pushes.", registry=REGISTRY
)
REJECTED_TRANSACTIONS = Counter(
    "bankfeeds_rejected_transactions_total",
    "Transactions in rejected pushes (a push is stored whole or not at all).",
    registry=REGISTRY,
)
REJECTIONS = Counter(
    "bankfeeds_push_rejections_total",
    "Push validation errors by rule (validatorName).",
    ["rule"],
    registry=REGISTRY,
)
IDX_CALLS = Counter(
    "bankfeeds_idx_requests_total",
    "IDX calls by outcome (ok, unauthorized, throttled, error).",
    ["outcome"],
    registry=REGISTRY,
)
AUTH_FAILURES = Counter(
    "bankfeeds_auth_failures_total",
    "Refused credentials by surface: api (API keys), idx (QuickBooks' credentials or partner "
    "key), link (a spent or unknown one-time link), portal (staff sign-in, locked or not).",
    ["surface"],
    registry=REGISTRY,
)
PULL_LAG = Histogram(
    "bankfeeds_idx_pull_lag_seconds",
    "Time since an account's previous QuickBooks transactions query, observed at each query "
    "(first page), by tenant id.",
    ["tenant"],
    registry=REGISTRY,
    buckets=tuple(h * 3600 for h in (1, 6, 12, 24, 30, 36, 48, 72, 120, 240)),
)
STALE = Gauge(
    "bankfeeds_stale_source_accounts",
    "Connected accounts whose feed is stale (not pulled for BANKFEEDS_STALE_AFTER_HOURS), by "
    "tenant id.",
    ["tenant"],
    registry=REGISTRY,
)
PENDING = Gauge(
    "bankfeeds_pending_transactions",
    "Accepted transactions not yet sent to Intuit.",
    registry=REGISTRY,
)
ACCOUNTS = Gauge(
    "bankfeeds_source_accounts", "Source accounts by status.", ["status"], registry=REGISTRY
)
DELIVERIES = Gauge(
    "bankfeeds_webhook_deliveries", "Webhook deliveries by status.", ["status"], registry=REGISTRY
)
OPERATIONS = Gauge(
    "bankfeeds_push_operations", "Push operations by status.", ["status"], registry=REGISTRY
)


JOB_LAST_RUN = Gauge(
    "bankfeeds_job_last_run_timestamp_seconds",
    "When each job last finished (Unix time), run by the worker or `bankfeeds jobs run`, as "
    "recorded in the database.",
    ["job"],
    registry=REGISTRY,
)
JOB_DURATION = Gauge(
    "bankfeeds_job_last_duration_seconds",
    "How long each job's last run took.",
    ["job"],
    registry=REGISTRY,
)
JOB_LAST_FAILED = Gauge(
    "bankfeeds_job_last_run_failed",
    "Whether the job's last run raised: 1 yes (its traceback is in the log), 0 no.",
    ["job"],
    registry=REGISTRY,
)
DAILY_SEND_TRANSACTIONS = Gauge(
    "bankfeeds_daily_send_last_transactions",
    "Transactions the last daily send sent to Intuit.",
    registry=REGISTRY,
)
DAILY_SEND_ACCOUNTS = Gauge(
    "bankfeeds_daily_send_last_accounts",
    "Source accounts the last daily send went through.",
    registry=REGISTRY,
)
DAILY_SEND_FAILED = Gauge(
    "bankfeeds_daily_send_last_failed_operations",
    "Push operations the last daily send failed (their accounts were disconnected).",
    registry=REGISTRY,
)
REDIS_UP = Gauge(
    "bankfeeds_redis_up",
    "Whether this API process reached Redis at its last probe (/readyz or scrape): 1 yes, "
    "0 degraded (pushes are still accepted, rate limits fail open, jobs wait).",
    registry=REGISTRY,
)


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    REQUESTS.labels(route, method, str(status)).inc()
    LATENCY.labels(route, method).observe(seconds)
    if route.startswith("/partners/intuit/idx"):
        outcome = {401: "unauthorized", 429: "throttled"}.get(status)
        IDX_CALLS.labels(outcome or ("ok" if status < 400 else "error")).inc()
    if status == 401:
        AUTH_FAILURES.labels(_surface(route)).inc()


# Where a 401 came from, by route template prefix; anything else is the client API.
_SURFACES = (
    ("/partners/", "idx"),
    ("/link", "link"),
    ("/portal", "portal"),
    ("/metrics", "metrics"),
)


def _surface(route: str) -> str:
    for prefix, surface in _SURFACES:
        if route.startswith(prefix):
            return surface
    return "api"


async def _refresh(session: AsyncSession) -> None:
    from app.accounts.tables import SourceAccount
    from app.companies.tables import Company
    from app.connections.tables import Connection
    from app.transactions.tables import BankTransaction, PushOperation
    from app.webhooks.tables import WebhookDelivery

    pending = (
        select(func.count()).select_from(BankTransaction).where(BankTransaction.sent_at.is_(None))
    )
    PENDING.set((await session.execute(pending)).scalar_one())
    STALE.clear()
    stale = (
        select(Company.tenant_id, func.count())
        .select_from(SourceAccount)
        .join(Connection, Connection.id == SourceAccount.connection_id)
        .join(Company, Company.id == Connection.company_id)
        .where(SourceAccount.status == "connected", SourceAccount.stale_since.is_not(None))
        .group_by(Company.tenant_id)
    )
    for tenant, count in (await session.execute(stale)).all():
        STALE.labels(str(tenant)).set(count)
    for gauge, column in (
        (ACCOUNTS, SourceAccount.status),
        (DELIVERIES, WebhookDelivery.status),
        (OPERATIONS, PushOperation.status),
    ):
        gauge.clear()
        rows = (await session.execute(select(column, func.count()).group_by(column))).all()
        for status, count in rows:
            gauge.labels(status).set(count)


async def _refresh_jobs(session: AsyncSession) -> None:
    """Each job's last run, from the database (see doctor.recorded): a Redis restart does not
    erase it, and runs made with `bankfeeds jobs run` count."""
    from app.jobruns.repository import all_runs

    for name, last in (await all_runs(session)).items():
        JOB_LAST_RUN.labels(name).set(last.finished_at.timestamp())
        JOB_DURATION.labels(name).set(last.seconds)
        JOB_LAST_FAILED.labels(name).set(0 if last.outcome == "ok" else 1)
        if name == "daily_send" and last.outcome == "ok":
            DAILY_SEND_TRANSACTIONS.set(int(last.result.get("transactions", 0)))
            DAILY_SEND_ACCOUNTS.set(int(last.result.get("accounts", 0)))
            DAILY_SEND_FAILED.set(int(last.result.get("failed", 0)))


async def redis_up(redis: Redis) -> bool:
    """Probe Redis briefly and keep the answer in bankfeeds_redis_up."""
    try:
        await asyncio.wait_for(redis.ping(), timeout=1)
        up = True
    except (TimeoutError, OSError, RedisError):
        up = False
    REDIS_UP.set(1 if up else 0)
    return up


def _allowed(request: Request, token: SecretStr | None) -> bool:
    if token is None:
        return True  # then expose /metrics only to the monitoring network
    sent = request.headers.get("authorization", "").encode()
    return hmac.compare_digest(sent, f"Bearer {token.get_secret_value()}".encode())


async def endpoint(request: Request) -> Response:
    services = request.app.state.services
    if not _allowed(request, services.settings.metrics_token):
        refused = Unauthorized("Unauthorized: /metrics needs `Authorization: Bearer <token>`.")
        refused.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return render(refused)
    async with services.sessions() as session:
        await _refresh(session)
        await _refresh_jobs(session)
    await redis_up(services.redis)
    return Response(generate_latest(REGISTRY), media_type=PROMETHEUS_TYPE)
