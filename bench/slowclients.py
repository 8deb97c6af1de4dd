"""Slow clients (issue 28): 25 portal form bodies and 20 API bodies drip a byte every 250 ms
against one `bankfeeds serve`, while another tenant's `GET /companies` and QuickBooks' IDX pull
of its feed are timed at the client; the same calls without the drippers are the baseline.

The drippers never finish: the server's body deadline (the window plus 5 s here) ends each with
408. Before issue 28 each dripper held a database connection (or SQLite's write lock) while it
dripped, and the timed calls waited 30 s for the pool and failed.

`drip` and `request_head` are also what tests/test_slow_clients.py drips with.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from bench.harness import Server, basic, connected_feeds, make_tenant, server, summary
from bench.signin import add_user

DRIP_EVERY = 0.25  # seconds between two bytes of a dripped body
PORTAL_DRIPS = 25
API_DRIPS = 20  # two tenants, ten each


def request_head(url: str, method: str, path: str, headers: dict[str, str], length: int) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {urlsplit(url).netloc}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def drip(url: str, head: bytes, body: bytes, every: float = DRIP_EVERY) -> int:
    """Sends the head at once, then the body a byte every `every` seconds until the server
    answers; returns the answer's status (0 if the server closed without one)."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(head)
        await writer.drain()
        answered = asyncio.ensure_future(reader.readline())
        for i in range(len(body)):
            if answered.done():
                break
            try:
                writer.write(body[i : i + 1])
                await writer.drain()
            except ConnectionError:
                break
            await asyncio.wait({answered}, timeout=every)
        line = await asyncio.wait_for(answered, timeout=120)
        return int(line.split()[1]) if line else 0
    finally:
        writer.close()


async def signed_in_cookie(url: str, email: str, password: str) -> tuple[str, str]:
    """A portal session over HTTP: its cookie header and its CSRF token."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        page = await http.get("/portal/sign-in")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token, page.text[:300]
        form = {"csrf": token.group(1), "email": email, "password": password}
        r = await http.post("/portal/sign-in", data=form)
        assert r.status_code == 303, r.text[:300]
        found = re.search(
            r'name="csrf" value="([^"]+)"', (await http.get("/portal/companies")).text
        )
        assert found
        return "; ".join(f"{k}={v}" for k, v in http.cookies.items()), found.group(1)


def portal_drip(url: str, cookie: str, csrf: str) -> tuple[bytes, bytes]:
    form = f"csrf={csrf}&lang=en&back=/portal/companies&pad={'x' * 200}".encode()
    headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
    return request_head(url, "POST", "/portal/preferences", headers, len(form)), form


def api_drip(url: str, api_key: str) -> tuple[bytes, bytes]:
    body = json.dumps({"name": "Slow Co " + "y" * 200}).encode()
    headers = {**basic(api_key), "Content-Type": "application/json"}
    return request_head(url, "POST", "/companies", headers, len(body)), body


async def timed(srv: Server, key: str, idx: tuple[str, dict[str, str]], seconds: float) -> Any:
    """The other tenant's list and QuickBooks' pull, in turn, for `seconds`: (ms, status)."""
    companies: list[float] = []
    pulls: list[float] = []
    statuses: dict[int, int] = {}
    async with httpx.AsyncClient(base_url=srv.url, timeout=60) as http:
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            for samples, call in (
                (companies, http.get("/companies", headers=basic(key))),
                (pulls, http.get(idx[0], headers=idx[1])),
            ):
                t0 = time.perf_counter()
                r = await call
                samples.append((time.perf_counter() - t0) * 1000)
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
    return companies, pulls, statuses


async def scenario(
    srv: Server, staff: tuple[str, str], keys: list[str], key: str, idx: Any, seconds: float
) -> dict[str, Any]:
    await timed(srv, key, idx, 2)  # warm-up, not counted
    baseline = await timed(srv, key, idx, seconds)
    cookie, csrf = await signed_in_cookie(srv.url, *staff)
    drips = [portal_drip(srv.url, cookie, csrf)] * PORTAL_DRIPS
    drips += [api_drip(srv.url, k) for k in keys for _ in range(API_DRIPS // len(keys))]
    drippers = [asyncio.ensure_future(drip(srv.url, h, b)) for h, b in drips]
    await asyncio.sleep(1.0)
    during = await timed(srv, key, idx, seconds)
    ended = await asyncio.gather(*drippers)
    print(f"  baseline answers {baseline[2]}, during {during[2]}", flush=True)
    print(f"  drippers ended with {dict((s, ended.count(s)) for s in set(ended))}", flush=True)
    return {
        "GET /companies, idle (ms)": summary(baseline[0]),
        "IDX pull, idle (ms)": summary(baseline[1]),
        "GET /companies, 45 bodies dripping (ms)": summary(during[0]),
        "IDX pull, 45 bodies dripping (ms)": summary(during[1]),
    }


def run(args: Any) -> dict[str, Any]:
    seconds = args.seconds
    deadline = {"BANKFEEDS_BODY_TIMEOUT_SECONDS": str(seconds + 5)}
    with server(extra_env=deadline) as srv:
        attacker, victim = make_tenant(srv), make_tenant(srv)
        password = secrets.token_urlsafe(16)
        email = add_user(srv, attacker, password)
        feed = connected_feeds(srv, victim, 1)[0]
        pull = f"/partners/intuit/idx/accounts/{feed.idx_account_id}/transactions"
        keys = [attacker["apiKey"], make_tenant(srv)["apiKey"]]
        return asyncio.run(
            scenario(
                srv, (email, password), keys, victim["apiKey"], (pull, feed.idx_headers), seconds
            )
        )
