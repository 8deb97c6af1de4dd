"""Two floods against one `bankfeeds serve` (PostgreSQL + Redis) while another tenant's
`GET /companies` is timed at the client (issue 28): does the flood move the other tenant?

- **IDX username flood**: a partner-key holder sends random usernames with that valid key, 32 at
  once, capped at `--flood-rate` a second (65: the rate of the attack as first reported).
- **Link flood**: "Get credentials" pressed on one Link session from 10 addresses (through a
  trusted proxy's X-Forwarded-For), 32 at once, at the same rate.
- **Control**: `GET /healthz` (no database, no Redis) from the same kind of process at the same
  rate: what any request at that rate costs on this machine, the floor a refusal can reach.

Each attacker runs in a process of its own (`python -m bench.floods idx|link ...`), started
for its round only, after a priming run of each (not measured): the attacking address's first
50 guesses cost a decoy hash each (bounded by the hashing pool) and the session's first three
presses make sets; the rounds measure the steady state after that. Rounds alternate, idle /
IDX flood / idle / Link flood, `--repeats` times, each `--seconds` long, so idle and flooded
samples come from the same minutes. Printed: the other tenant's median per kind of round and
each flood's ratio to idle, the attackers' answers and rates, and the CPU of the server (API
process, every `postgres` process and this server's own backends, Redis) and of the clients
(the timing client, the attacker) per second of each kind of round.

    python -m bench floods                   # 3 x (idle, IDX, idle, Link), 10 s rounds
    python -m bench floods --repeats 5 --seconds 20 --flood-rate 0   # 0: no cap, 32 at once
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.cpu import Meter, spent
from bench.harness import PG, REDIS, Server, basic, make_tenant, run_client, server, summary
from bench.signin import measure  # the other tenant's GET /companies, open loop, client-timed

ATTACKERS = 32
ADDRESSES = 10
IDLE_RATE = 10.0  # the other tenant's requests a second
PRIMING_SECONDS = 5.0
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def _name() -> str:
    return "-".join("".join(secrets.choice(ALPHABET) for _ in range(4)) for _ in range(3))


# ---- the attacker (a process of its own) ------------------------------------------------------


async def attack(kind: str, url: str, secret: str, csrf: str, seconds: float, rate: float) -> None:
    """Flood for `seconds`, `ATTACKERS` requests at once, at most `rate` a second (0: no cap);
    prints one JSON line: the answers, the requests sent and this process's CPU seconds."""
    statuses: dict[int, int] = {}
    limits = httpx.Limits(max_connections=ATTACKERS, max_keepalive_connections=ATTACKERS)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
        if kind == "link":
            http.cookies.set("bf_link", secret)
        key = {"X-Partner-Key": _b64(secret)}
        print("ready", flush=True)
        start = time.monotonic()
        sent = 0

        async def send(n: int) -> httpx.Response:
            if kind == "control":
                return await http.get("/healthz")
            if kind == "idx":
                headers = {**key, "Authorization": "Basic " + _b64(f"{_name()}:not-the-password")}
                return await http.get("/partners/intuit/idx/accounts", headers=headers)
            address = f"198.18.0.{1 + n % ADDRESSES}"
            return await http.post(
                "/link/credentials", data={"csrf": csrf}, headers={"X-Forwarded-For": address}
            )

        async def one(n: int) -> None:
            try:
                status = (await send(n)).status_code
            except httpx.TransportError:  # e.g. a keep-alive connection the server closed
                status = 0
            statuses[status] = statuses.get(status, 0) + 1

        async def worker() -> None:
            nonlocal sent
            while True:
                n = sent
                at = start + (n / rate if rate else 0.0)
                if at >= start + seconds or time.monotonic() >= start + seconds:
                    return
                sent += 1
                await asyncio.sleep(max(0.0, at - time.monotonic()))
                await one(n)

        await asyncio.gather(*(worker() for _ in range(ATTACKERS)))
        took = time.monotonic() - start
    print(
        json.dumps(
            {"statuses": statuses, "sent": sent, "seconds": took, "cpu": time.process_time()}
        )
    )


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


# ---- the measurement ------------------------------------------------------------------------


@dataclass
class Kind:
    """Every round of one kind: the other tenant's samples and what was spent meanwhile."""

    samples: list[float] = field(default_factory=list)
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    attacker: dict[str, Any] = field(default_factory=dict)

    def add_cpu(self, used: dict[str, float]) -> None:
        for group, value in used.items():
            self.cpu[group] = self.cpu.get(group, 0.0) + value


def setup(srv: Server) -> tuple[str, str, tuple[str, str]]:
    """The measured tenant's API key (five companies), the flooding tenant's partner key, and a
    Link session of the flooding tenant past its location step: (cookie, CSRF token)."""
    other, attacker = make_tenant(srv), make_tenant(srv)
    with httpx.Client(base_url=srv.url, headers=basic(other["apiKey"]), timeout=30) as http:
        for i in range(5):
            http.post("/companies", json={"name": f"Other {i}"}).raise_for_status()
    with httpx.Client(base_url=srv.url, headers=basic(attacker["apiKey"]), timeout=30) as http:
        company = http.post("/companies", json={"name": "Flooded"}).json()
        conn = http.post(
            f"/companies/{company['id']}/connections", json={"platformKey": "hcws"}
        ).json()
    with httpx.Client(base_url=srv.url, timeout=30) as browser:
        landing = browser.get(conn["linkUrl"])
        form = {n: _hidden(landing.text, n) for n in ("csrf", "otp", "lang")}
        opened = browser.post(conn["linkUrl"].split("?")[0], data=form)
        assert opened.status_code == 303, opened.text[:300]
        csrf = _hidden(browser.get("/link/setup").text, "csrf")
        located = browser.post("/link/location", data={"csrf": csrf, "location": "us-ca"})
        assert located.status_code == 303, located.text[:300]
        cookie = browser.cookies["bf_link"]
    return other["apiKey"], attacker["partnerKeys"]["production"], (cookie, csrf)


def _hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, html[:300]
    return found.group(1)


def _start(kind: str, url: str, secret: str, csrf: str, seconds: float, rate: float) -> Any:
    args = [sys.executable, "-m", "bench.floods", kind, url, secret, csrf, str(seconds), str(rate)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def _round(
    srv: Server,
    meter: Meter,
    key: str,
    seconds: float,
    attacker: tuple[str, ...] | None,
    rate: float,
) -> tuple[list[float], dict[str, float], dict[str, Any]]:
    """One round: the attacker (if any) started, a second to get going, then `seconds` timed."""
    proc = None
    if attacker is not None:
        proc = _start(attacker[0], srv.url, attacker[1], attacker[2], seconds + 2.0, rate)
        time.sleep(1.0)
    before, client_before = meter.sample(), time.process_time()
    samples = run_client(measure(srv, key, IDLE_RATE, seconds))
    after = meter.sample()
    used = spent(before, after)
    used["postgres (this server's backends)"] = spent(
        before, after, only={"postgres": meter.own_backends()}
    )["postgres"]
    used["timing client"] = time.process_time() - client_before
    found: dict[str, Any] = {}
    if proc is not None:
        out, _ = proc.communicate(timeout=120)
        found = json.loads(out.strip().splitlines()[-1])
    return samples, used, found


def run(args: Any) -> dict[str, Any]:
    seconds = args.seconds if args.seconds != 8.0 else 10.0
    rate = args.flood_rate
    with server(extra_env={"BANKFEEDS_TRUSTED_PROXIES": "127.0.0.0/8"}) as srv:
        key, partner_key, (cookie, csrf) = setup(srv)
        meter = Meter.of([srv.pid], PG, REDIS)
        run_client(measure(srv, key, IDLE_RATE, 2))  # warm-up, not counted
        floods: dict[str, tuple[str, ...] | None] = {
            "idle": None,
            "IDX username flood": ("idx", partner_key, "-"),
            "Link flood": ("link", cookie, csrf),
            "control (GET /healthz, same rate)": ("control", "-", "-"),
        }
        # Each attacker first gets past what is not the steady state: the address's first
        # `BANKFEEDS_IDX_IP_LOCK_AFTER` guesses (each a decoy hash on the bounded pool) and the
        # session's three sets (hashed) and first refusal (the database's word).
        for name in ("IDX username flood", "Link flood"):
            kind, secret, token = floods[name] or ("", "", "")
            for _ in range(6):  # until the flood is refused (a loaded machine hashes slowly)
                primed = _start(kind, srv.url, secret, token, PRIMING_SECONDS, rate)
                found = json.loads(primed.communicate()[0].strip().splitlines()[-1])
                answers = found["statuses"]
                print(f"  priming the {name}: answers {answers}", flush=True)
                if "429" in answers:
                    break
        kinds = {name: Kind() for name in floods}
        plan = ["idle", "IDX username flood", "idle", "Link flood"] * args.repeats
        plan += ["idle", "control (GET /healthz, same rate)"] * max(1, args.repeats // 2)
        for name in plan:
            samples, used, found = _round(srv, meter, key, seconds, floods[name], rate)
            kind = kinds[name]
            kind.samples += samples
            kind.seconds += seconds
            kind.add_cpu(used)
            if found:
                kind.attacker["cpu"] = kind.attacker.get("cpu", 0.0) + found["cpu"]
                kind.attacker["sent"] = kind.attacker.get("sent", 0) + found["sent"]
                kind.attacker["seconds"] = kind.attacker.get("seconds", 0.0) + found["seconds"]
                answers = kind.attacker.setdefault("statuses", {})
                for status, n in found["statuses"].items():
                    answers[status] = answers.get(status, 0) + n
            print(f"  round {name}: median {summary(samples)['median']:.1f} ms", flush=True)
    report(kinds)
    return {f"GET /companies, {name} (ms)": summary(k.samples) for name, k in kinds.items()}


def report(kinds: dict[str, Kind]) -> None:
    idle = summary(kinds["idle"].samples)["median"]
    print(f"\nother tenant's GET /companies median, idle: {idle:.1f} ms", flush=True)
    for name, kind in kinds.items():
        if name != "idle":
            flooded = summary(kind.samples)["median"]
            print(f"  {name}: {flooded:.1f} ms, {flooded / idle:.2f} x idle (ratio)", flush=True)
    idle_api = kinds["idle"].cpu.get("api", 0.0) / kinds["idle"].seconds
    print("\nthe API process's CPU per attacking request, above idle (ms):")
    for name, kind in kinds.items():
        if kind.attacker:
            rate = kind.attacker["sent"] / kind.attacker["seconds"]
            extra = kind.cpu.get("api", 0.0) / kind.seconds - idle_api
            print(f"  {name}: {1000 * extra / rate:.2f}", flush=True)
    print("\nCPU seconds per second of round (1.0 = one core busy):")
    for name, kind in kinds.items():
        parts = ", ".join(f"{g} {v / kind.seconds:.3f}" for g, v in sorted(kind.cpu.items()))
        line = f"  {name}: {parts}"
        if kind.attacker:
            a = kind.attacker
            per_second = a["sent"] / a["seconds"]
            line += f"; attacker {a['cpu'] / a['seconds']:.3f} ({per_second:.0f} requests/s"
            line += f", answers {dict(sorted(a['statuses'].items()))})"
        print(line, flush=True)


if __name__ == "__main__":  # the attacker: python -m bench.floods idx|link URL SECRET CSRF S RATE
    kind, url, secret, csrf, span, cap = sys.argv[1:7]
    run_client(attack(kind, url, secret, csrf, float(span), float(cap)))
