"""A portal sign-in flood of 20 per second against one `bankfeeds serve`, while another tenant's
`GET /companies` is timed at the client (issue 16).

Two floods, each on a fresh server: from one address with the default limits; and from a botnet
(random addresses through a trusted proxy, random e-mails, so every try costs a full argon2
check), where only the hashing pool stands between the flood and the other tenant (there is no
global sign-in cap since issue 28).
"""

from __future__ import annotations

import asyncio
import re
import secrets
import subprocess
import time
from typing import Any

import httpx

from bench.harness import BIN, Server, basic, make_tenant, server, summary

FLOODS: dict[str, tuple[dict[str, str], bool | None]] = {
    "no flood (baseline, same machine, same minute)": ({}, None),
    "one address, default limits": ({}, False),
    "botnet (random addresses and e-mails), default limits": (
        {"BANKFEEDS_TRUSTED_PROXIES": "127.0.0.0/8"},
        True,
    ),
}


def add_user(srv: Server, tenant: dict[str, Any], password: str | None = None) -> str:
    email = f"staff-{secrets.token_hex(3)}@example.test"
    subprocess.run(
        [
            str(BIN),
            "tenants",
            "users",
            "add",
            tenant.get("id") or tenant["name"],
            email,
            "--password-stdin",
        ],
        env=srv.env,
        input=password or secrets.token_urlsafe(16),
        check=True,
        capture_output=True,
        text=True,
    )
    return email


async def flood(
    srv: Server, email: str, botnet: bool, rate: float, seconds: float
) -> dict[int, int]:
    statuses: dict[int, int] = {}
    async with httpx.AsyncClient(base_url=srv.url, timeout=60) as http:
        page = await http.get("/portal/sign-in")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token, page.text[:300]

        async def one() -> None:
            who = email
            headers = {}
            if botnet:
                who = f"{secrets.token_hex(4)}@example.test"
                headers["X-Forwarded-For"] = (
                    f"198.18.{secrets.randbelow(256)}.{secrets.randbelow(256)}"
                )
            r = await http.post(
                "/portal/sign-in",
                data={"csrf": token.group(1), "email": who, "password": "not-the-password"},
                headers=headers,
            )
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

        tasks = []
        start = time.perf_counter()
        for i in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
    return statuses


async def measure(srv: Server, key: str, rate: float, seconds: float) -> list[float]:
    samples: list[float] = []
    async with httpx.AsyncClient(base_url=srv.url, headers=basic(key), timeout=60) as http:
        start = time.perf_counter()
        for i in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            t0 = time.perf_counter()
            r = await http.get("/companies")
            samples.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200, r.text
    return samples


def setup(srv: Server) -> tuple[str, str]:
    """The flooded tenant's staff e-mail, and another tenant's API key with five companies."""
    victim, other = make_tenant(srv), make_tenant(srv)
    email = add_user(srv, victim)
    with httpx.Client(base_url=srv.url, headers=basic(other["apiKey"])) as http:
        for i in range(5):
            http.post("/companies", json={"name": f"Other {i}"}).raise_for_status()
    return email, str(other["apiKey"])


async def scenario(
    srv: Server, email: str, key: str, botnet: bool | None, seconds: float
) -> tuple[list[float], dict[int, int]]:
    await measure(srv, key, 10, 2)  # warm-up, not counted
    if botnet is None:
        return await measure(srv, key, 10, seconds), {}
    timed, statuses = await asyncio.gather(
        measure(srv, key, 10, seconds), flood(srv, email, botnet, 20, seconds)
    )
    return timed, statuses


def run(args: Any) -> dict[str, Any]:
    seconds = args.seconds if args.seconds != 8.0 else 30.0
    results: dict[str, Any] = {}
    for name, (env, botnet) in FLOODS.items():
        with server(extra_env=env) as srv:
            email, key = setup(srv)
            timed, statuses = asyncio.run(scenario(srv, email, key, botnet, seconds))
        print(f"  {name}: sign-in answers {dict(sorted(statuses.items()))}", flush=True)
        results[f"GET /companies during a 20/s sign-in flood, {name} (ms)"] = summary(timed)
    return results
