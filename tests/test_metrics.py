"""/metrics for Prometheus: route templates (never ids), push outcomes by rule, gauges from the
database."""

from __future__ import annotations

import re

import httpx

from tests.conftest import Linkable
from tests.feeds import connect, day, tx


def value(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = (
        re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if labels else "") + r" ([0-9.e+]+)"
    )
    match = re.search(pattern, text)
    return float(match.group(1)) if match else 0.0


async def test_metrics_count_requests_pushes_and_state(
    client: httpx.AsyncClient, linkable: Linkable
) -> None:
    before = (await client.get("/metrics")).text
    feed = await connect(linkable)
    assert (await feed.push([tx("m1", day(0)), tx("m2", day(0))])).status_code == 200
    assert (await feed.push([tx("m3", day(1))])).status_code == 400
    r = await client.get("/metrics")
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text

    route = (
        "/companies/{companyId}/connections/{connectionId}/push/bankAccounts/{accountId}"
        "/bankTransactions"
    )
    assert (
        value(text, "bankfeeds_http_requests_total", route=route, method="POST", status="200") >= 1
    )
    assert linkable.company["id"] not in text, "route templates, never ids, label requests"
    assert (
        value(text, "bankfeeds_pushes_total", outcome="accepted")
        - value(before, "bankfeeds_pushes_total", outcome="accepted")
        == 1
    )
    assert (
        value(text, "bankfeeds_push_rejections_total", rule="NoFutureDates")
        - value(before, "bankfeeds_push_rejections_total", rule="NoFutureDates")
        == 1
    )
    assert (
        value(text, "bankfeeds_pushed_transactions_total")
        - value(before, "bankfeeds_pushed_transactions_total")
        == 2
    )
    assert value(text, "bankfeeds_pending_transactions") >= 2
    assert value(text, "bankfeeds_source_accounts", status="connected") >= 1
    assert value(text, "bankfeeds_idx_requests_total", outcome="ok") >= 2
    assert "bankfeeds_http_request_duration_seconds_bucket" in text
