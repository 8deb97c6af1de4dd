"""An attacker in a process of its own (so its client work never shares the measuring test's
event loop): `python -m tests.helpers.flood idx URL PARTNER_KEY` guesses random IDX usernames;
`... link URL COOKIE CSRF` presses "Get credentials" on one Link session from ten addresses
(X-Forwarded-For, the server trusting loopback as its proxy). Both at a steady 65 requests a
second, at most 32 at once, until killed; each answer's status is printed on its own line."""

from __future__ import annotations

import asyncio
import base64
import secrets
import sys

import httpx

RATE = 65.0
AT_ONCE = 32


async def main(kind: str, url: str, *args: str) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        running: set[asyncio.Task[None]] = set()
        n = 0
        while True:
            if len(running) >= AT_ONCE:
                _, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            running.add(asyncio.create_task(one(http, kind, n, *args)))
            n += 1
            await asyncio.sleep(1 / RATE)


async def one(http: httpx.AsyncClient, kind: str, n: int, *args: str) -> None:
    if kind == "idx":
        pair = base64.b64encode(f"RAND-{secrets.token_hex(4)}:guess".encode()).decode()
        key = base64.b64encode(args[0].encode()).decode()
        headers = {"Authorization": f"Basic {pair}", "X-Partner-Key": key}
        r = await http.get("/partners/intuit/idx/accounts", headers=headers)
    else:
        cookie, csrf = args
        r = await http.post(
            "/link/credentials",
            data={"csrf": csrf},
            headers={"Cookie": cookie, "X-Forwarded-For": f"198.51.100.{100 + n % 10}"},
        )
    print(r.status_code, flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
