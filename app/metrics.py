"""Prometheus metrics (prometheus-client): counters and histograms the API process updates, and
gauges read from the database at scrape time (the truth lives there, shared by every process).
The counters only: the /metrics endpoint that refreshes the gauges lives in app/ops.py."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

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
HASH_REFUSED = Counter(
    "bankfeeds_hash_refused_total",
    "argon2 jobs refused (429) because the hashing pool and its queue were full.",
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
BALANCE_GAP_ACCOUNTS = Gauge(
    "bankfeeds_balance_gap_accounts",
    "Source accounts with at least one day whose balance certificate is a gap.",
    registry=REGISTRY,
)
BALANCE_GAP_DAYS = Gauge(
    "bankfeeds_balance_gap_days", "Days whose balance certificate is a gap.", registry=REGISTRY
)
BALANCE_OLDEST_UNCERTIFIED = Gauge(
    "bankfeeds_balance_oldest_uncertified_day_timestamp_seconds",
    "Start (UTC midnight, Unix time) of the oldest day still pendingDelivery or gap across all "
    "accounts; 0 when every day with data is certified or unknown.",
    registry=REGISTRY,
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
