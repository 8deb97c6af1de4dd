"""/metrics for Prometheus: route templates (never ids), push outcomes by rule, gauges from the
database."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr, ValidationError

from app import clock
from app.config import Settings
from app.kit.services import Services
from app.main import create_app
from app.worker import build_ctx, daily_send
from tests.feeds import connect, day, tx
from tests.helpers import LOG_LINES, Linkable, metric_value, remember_secret


async def test_metrics_count_requests_pushes_and_state(
    client: httpx.AsyncClient, linkable: Linkable
) -> None:
    before = (await client.get("/metrics")).text
    feed = await connect(linkable)
    assert (await feed.push([tx("m1", day(0)), tx("m2", day(0))])).status_code == 200
    assert (await feed.push([tx("m3", day(1)), tx("m4", day(1))])).status_code == 400
    assert (await client.get("/companies", auth=("bfk_live_wrong", ""))).status_code == 401
    assert (await client.get("/partners/intuit/idx/accounts")).status_code == 401
    assert (await client.get("/link/connect")).status_code == 401, "no Link session"
    r = await client.get("/metrics")
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text

    route = (
        "/companies/{companyId}/connections/{connectionId}/push/bankAccounts/{accountId}"
        "/bankTransactions"
    )
    assert (
        metric_value(
            text, "bankfeeds_http_requests_total", route=route, method="POST", status="200"
        )
        >= 1
    )
    assert linkable.company["id"] not in text, "route templates, never ids, label requests"
    assert (
        metric_value(text, "bankfeeds_pushes_total", outcome="accepted")
        - metric_value(before, "bankfeeds_pushes_total", outcome="accepted")
        == 1
    )
    assert (
        metric_value(text, "bankfeeds_push_rejections_total", rule="NoFutureDates")
        - metric_value(before, "bankfeeds_push_rejections_total", rule="NoFutureDates")
        == 2
    ), "one per failing item"
    assert (
        metric_value(text, "bankfeeds_rejected_transactions_total")
        - metric_value(before, "bankfeeds_rejected_transactions_total")
        == 2
    )
    for surface in ("api", "idx", "link"):
        moved = metric_value(text, "bankfeeds_auth_failures_total", surface=surface) - metric_value(
            before, "bankfeeds_auth_failures_total", surface=surface
        )
        assert moved >= 1, surface
    assert (
        metric_value(text, "bankfeeds_pushed_transactions_total")
        - metric_value(before, "bankfeeds_pushed_transactions_total")
        == 2
    )
    assert metric_value(text, "bankfeeds_pending_transactions") >= 2
    assert metric_value(text, "bankfeeds_source_accounts", status="connected") >= 1
    assert metric_value(text, "bankfeeds_idx_requests_total", outcome="ok") >= 2
    assert "bankfeeds_http_request_duration_seconds_bucket" in text


def families(text: str) -> dict[str, Any]:
    """The exposition parsed by prometheus-client's own parser (fails on malformed output)."""
    return {f.name: f for f in text_string_to_metric_families(text)}


async def test_metrics_parse_and_carry_the_workers_last_runs(
    client: httpx.AsyncClient, linkable: Linkable, settings: Settings, services: Services
) -> None:
    feed = await connect(linkable)
    assert (await feed.push([tx("w1", day(0)), tx("w2", day(0))])).status_code == 200
    ctx: dict[str, Any] = {"settings": settings, "redis": services.redis}
    await build_ctx(ctx, settings)
    try:
        result = await daily_send(ctx)
    finally:
        await ctx["http"].aclose()
        await ctx["engine"].dispose()
    parsed = families((await client.get("/metrics")).text)
    job_lines = [line for line in LOG_LINES if '"job": "daily_send"' in line]
    assert job_lines and '"correlationId": "job-daily_send-' in job_lines[-1]
    runs = {
        s.labels["job"]: s.value for s in parsed["bankfeeds_job_last_run_timestamp_seconds"].samples
    }
    assert abs(runs["daily_send"] - clock.now().timestamp()) < 60
    durations = parsed["bankfeeds_job_last_duration_seconds"].samples
    assert any(s.labels["job"] == "daily_send" and s.value >= 0 for s in durations)
    sent = parsed["bankfeeds_daily_send_last_transactions"].samples[0].value
    assert sent == result["transactions"] >= 2
    for name in ("bankfeeds_http_requests", "bankfeeds_pushes", "bankfeeds_source_accounts"):
        assert name in parsed, name


async def test_metrics_token_when_set(settings: Settings) -> None:
    token = secrets.token_urlsafe(24)
    remember_secret(token)
    own = settings.model_copy(update={"metrics_token": SecretStr(token)})
    application = create_app(own)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://ops.test") as http:
            bare = await http.get("/metrics")
            assert bare.status_code == 401 and bare.json()["statusCode"] == 401
            assert bare.headers["www-authenticate"].startswith("Bearer")
            wrong = await http.get("/metrics", headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
            ok = await http.get("/metrics", headers={"Authorization": f"Bearer {token}"})
            assert ok.status_code == 200
            failures = families(ok.text)["bankfeeds_auth_failures"].samples
            assert any(s.labels.get("surface") == "metrics" and s.value >= 2 for s in failures)
    with pytest.raises(ValidationError):
        Settings(metrics_token="short")
