"""A month in a few minutes: 30 simulated days of pushes, daily sends, QuickBooks' nightly pulls
and Updates over 300+ accounts, with SMBs who stop pulling and come back, clients who revoke,
a PostgreSQL outage and daily sends killed mid-way. Invariants are checked every simulated day.

Runs in-process (the app through httpx's ASGI transport, the jobs called as the worker calls
them) on a throwaway PostgreSQL cluster of its own, so the outage disturbs nobody; time is the
settable clock. `python -m bench soak` prints the report; tests/test_soak.py runs it in CI.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import func, select

from app import clock, migrate
from app.accounts.jobs import detect, detect_stale_feeds
from app.accounts.tables import SourceAccount
from app.config import Settings
from app.db import transaction
from app.devtools.quickbooks import (
    LinkedAccount,
    PullFailed,
    QuickBooks,
    nightly_after,
    retry_times,
)
from app.main import create_app
from app.tenants import service as tenants
from app.transactions.jobs import send_all
from app.transactions.tables import BankTransaction
from app.webhooks.tables import WebhookEndpoint, WebhookEvent

TORONTO = ZoneInfo("America/Toronto")
START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)  # winter: 22:00 Pacific is 06:00 UTC
STALE_GROUP = (3, 6)  # (stop day, resume day): stale, then fresh
GONE_GROUP = (5, 18)  # stale, disconnected after 10 days, then back
REVOKE_DAY = 20
OUTAGE_DAY = 12
KILL_DAYS = (7, 19)
GROUPS = ("stale", "gone", "revoked", "steady")
CONCURRENCY = 8  # QuickBooks' pulls in flight at once


class Killed(Exception):
    """A worker killed mid-send (raised between two committed chunks)."""


@dataclass
class Smb:
    """One company's QuickBooks (one connection) and what the client knows of it."""

    tenant: int
    api_key: str
    connection_path: str
    accounts: list[str]
    qbo: QuickBooks
    group: str = "steady"  # steady, stale, gone, revoked
    pulling: bool = True


@dataclass
class Report:
    days: int = 0
    tenants: int = 0
    connections: int = 0
    accounts: int = 0
    pushes: int = 0
    pushes_rejected: int = 0
    refused_during_outage: int = 0
    accepted: int = 0
    rejected: int = 0
    sent: int = 0
    pulls: int = 0
    pull_failures: int = 0
    retries_that_worked: int = 0
    updates: int = 0
    faults: dict[str, int] = field(default_factory=Counter)  # type: ignore[assignment]
    duplicates: int = 0
    lost: int = 0
    rejected_in_ledger: int = 0
    status_mismatches: int = 0
    webhooks: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    checks: int = 0
    phases: dict[str, float] = field(default_factory=dict)

    def rows(self) -> list[tuple[str, str]]:
        return [
            ("simulated days", str(self.days)),
            (
                "tenants / connections / accounts",
                f"{self.tenants} / {self.connections} / {self.accounts}",
            ),
            ("pushes (rejected by the rules)", f"{self.pushes} ({self.pushes_rejected})"),
            (
                "pushes refused during the outage (503, not acknowledged)",
                str(self.refused_during_outage),
            ),
            ("transactions accepted / rejected", f"{self.accepted} / {self.rejected}"),
            ("transactions sent", str(self.sent)),
            ("IDX calls by the stand-in (failed)", f"{self.pulls} ({self.pull_failures})"),
            ("nightly retries that succeeded", str(self.retries_that_worked)),
            ("Updates", str(self.updates)),
            ("faults injected", ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items()))),
            (
                "webhooks (stale / fresh / disconnected)",
                f"{self.webhooks.get('bankFeeds.sourceAccount.stale', 0)} / "
                f"{self.webhooks.get('bankFeeds.sourceAccount.fresh', 0)} / "
                f"{self.webhooks.get('bankFeeds.sourceAccount.disconnected', 0)}",
            ),
            ("daily invariant checks", str(self.checks)),
            ("duplicates in the ledger", str(self.duplicates)),
            ("accepted but lost", str(self.lost)),
            ("rejected that reached the ledger", str(self.rejected_in_ledger)),
            ("status / webhook mismatches", str(self.status_mismatches)),
            ("wall-clock seconds", f"{self.seconds:.0f}"),
            (
                "of which",
                ", ".join(f"{k} {v:.0f} s" for k, v in self.phases.items()),
            ),
        ]

    def table(self) -> str:
        return "| figure | value |\n|---|---|\n" + "\n".join(
            f"| {k} | {v} |" for k, v in self.rows()
        )


def basic(key: str) -> dict[str, str]:
    import base64

    return {"Authorization": "Basic " + base64.b64encode(key.encode()).decode()}


class Month:
    def __init__(
        self,
        settings: Settings,
        pg: Any,
        *,
        tenants: int,
        companies: int,
        per_connection: int,
        days: int,
    ) -> None:
        self.settings = settings
        self.pg = pg
        self.shape = (tenants, companies, per_connection)
        self.days = days
        self.report = Report(days=days)
        self.smbs: list[Smb] = []
        self.acked: dict[str, set[str]] = {}  # IDX account id -> our ids acknowledged
        self.refused: set[str] = set()  # ids of rejected pushes (never stored)
        self.idx_of: dict[tuple[str, str], str] = {}  # (connection path, account id) -> IDX id

    # ---- set-up ---------------------------------------------------------------------------
    async def setup(self, http: httpx.AsyncClient, sessions: Any) -> None:
        n_tenants, companies, per_connection = self.shape
        clock.freeze(START + timedelta(hours=12))
        gate = asyncio.Semaphore(CONCURRENCY)
        for t in range(n_tenants):
            async with transaction(sessions) as session:
                made = await tenants.create_tenant(
                    session, f"Soak {t} {secrets.token_hex(3)}", "America/Toronto", 10
                )
            key, partner = made.api_keys["production"], made.partner_keys["production"]
            headers = basic(key)
            async with transaction(sessions) as session:
                # Subscribed, so events are written; never delivered here (no receiver runs).
                session.add(
                    WebhookEndpoint(
                        tenant_id=made.tenant.id,
                        environment="production",
                        url="http://127.0.0.1:9/soak",
                        event_types=[],
                        secret="whsec_" + secrets.token_urlsafe(24),
                        created_at=clock.now(),
                    )
                )

            async def company_of(
                c: int,
                t: int = t,
                key: str = key,
                partner: str = partner,
                headers: dict[str, str] = headers,
            ) -> None:
                async with gate:
                    company = (
                        await http.post(
                            "/companies", json={"name": f"Soak {t}-{c}"}, headers=headers
                        )
                    ).json()
                    connection = (
                        await http.post(
                            f"/companies/{company['id']}/connections",
                            json={"platformKey": "hcws"},
                            headers=headers,
                        )
                    ).json()
                    path = f"/companies/{company['id']}/connections/{connection['id']}"
                    ids = [f"a{t}-{c}-{k}" for k in range(per_connection)]
                    body = [
                        {
                            "id": i,
                            "accountName": f"Account {i}",
                            "accountType": "Checking",
                            "accountNumber": f"0000{k:04d}",
                            "currency": "CAD",
                            "balance": 0,
                        }
                        for k, i in enumerate(ids)
                    ]
                    r = await http.post(
                        f"{path}/connectionInfo/bankFeedAccounts/batch", json=body, headers=headers
                    )
                    assert r.status_code == 201, r.text
                    creds = (
                        await http.post(
                            f"{path}/connectionInfo/bankFeedAccounts/credentials", headers=headers
                        )
                    ).json()
                    qbo = QuickBooks(http, creds["username"], creds["password"], partner)
                    listed = await qbo.listed()
                    await qbo.link(listed, (START + timedelta(hours=12)).date() - timedelta(days=3))
                    for a in listed:
                        number = a["accountNumber"]
                        self.idx_of[(path, ids[int(number[-4:])])] = a["id"]
                        self.acked[a["id"]] = set()
                    smb = Smb(t, key, path, ids, qbo)
                    smb.group = ("stale", "gone", "revoked", "steady", "steady")[c % 5]
                    if smb.group == "revoked" and t != 0:
                        smb.group = "steady"  # one revoking client is enough
                    self.smbs.append(smb)

            await asyncio.gather(*(company_of(c) for c in range(companies)))
        self.smbs.sort(key=lambda smb: smb.accounts[0])
        self.report.tenants = n_tenants
        self.report.connections = len(self.smbs)
        self.report.accounts = sum(len(s.accounts) for s in self.smbs)

    # ---- one day --------------------------------------------------------------------------
    async def push_all(
        self, http: httpx.AsyncClient, sessions: Any, day: int, outage: bool
    ) -> None:
        today = (START + timedelta(days=day, hours=14)).astimezone(TORONTO).date()
        for s_i, smb in enumerate(self.smbs):
            for a_i, account in enumerate(smb.accounts):
                if (a_i + day) % 3:
                    continue  # each account pushes every third day; every day has pushes
                ids = [f"{account}-d{day}-{k}" for k in range(2)]
                items = [
                    {
                        "id": i,
                        "date": today.isoformat(),
                        "description": f"Soak {i}",
                        "amount": "-12.34",
                    }
                    for i in ids
                ]
                rejected = (s_i + a_i + day) % 10 == 0
                if rejected:  # a future date: the rules refuse the whole push
                    items[1]["date"] = (today + timedelta(days=2)).isoformat()
                if outage and s_i == 0 and a_i == 0:
                    await self.pg_down()  # the first connection's pushes meet the outage
                if outage and s_i == 1 and a_i == 0:
                    await self.pg_up(sessions)
                r = await http.post(
                    f"{smb.connection_path}/push/bankAccounts/{account}/bankTransactions",
                    json={"accountId": account, "transactions": items},
                    headers=basic(smb.api_key),
                )
                self.report.pushes += 1
                idx = self.idx_of[(smb.connection_path, account)]
                if r.status_code == 200:
                    assert not rejected, r.text
                    self.acked[idx].update(ids)
                    self.report.accepted += len(ids)
                elif r.status_code == 503:
                    self.report.refused_during_outage += 1
                else:
                    assert r.status_code == 400, r.text
                    self.report.pushes_rejected += 1
                    self.report.rejected += len(ids)
                    self.refused.update(ids)

    async def pg_down(self) -> None:
        await asyncio.to_thread(self.pg.stop, "immediate")
        self.report.faults["PostgreSQL stopped"] += 1

    async def pg_up(self, sessions: Any) -> None:
        """Start it again and wait until a session works (the pool drops dead connections)."""
        await asyncio.to_thread(self.pg.start)
        for _ in range(50):
            try:
                async with sessions() as session:
                    await session.execute(select(1))
                return
            except Exception:
                await asyncio.sleep(0.1)
        raise RuntimeError("PostgreSQL did not come back")

    async def send(self, sessions: Any, day: int) -> None:
        clock.freeze(START + timedelta(days=day, hours=5))
        if day in KILL_DAYS:
            calls = 0

            def kill(_: int) -> None:
                nonlocal calls
                calls += 1
                if calls == 2:
                    raise Killed

            try:
                await send_all(sessions, 20, kill)
            except Killed:
                self.report.faults["daily send killed mid-way"] += 1
            # A cancellation inside a transaction as well (a SIGKILL between two statements).
            task = asyncio.create_task(send_all(sessions, 20))
            await asyncio.sleep(0.005)
            if not task.done():
                task.cancel()
                self.report.faults["daily send cancelled mid-transaction"] += 1
            with contextlib.suppress(asyncio.CancelledError):
                await task
            clock.freeze(START + timedelta(days=day, hours=5, minutes=10))  # arq runs it again
        totals = await send_all(sessions, self.settings.send_chunk_accounts)
        self.report.sent += totals["transactions"]

    async def nightly(self, sessions: Any, day: int, outage: bool) -> None:
        first = nightly_after(START + timedelta(days=day, hours=5, minutes=30))
        clock.freeze(first)
        if outage:
            await self.pg_down()
        waiting: list[tuple[Smb, LinkedAccount]] = []
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(smb: Smb) -> None:
            # One SMB's accounts in turn (its credentials are checked once, then remembered);
            # the SMBs side by side, as Intuit's nightly batch runs them.
            async with gate:
                for linked in smb.qbo.accounts.values():
                    try:
                        await smb.qbo.nightly(linked)
                    except PullFailed:
                        self.report.pull_failures += 1
                        waiting.append((smb, linked))

        await asyncio.gather(*(one(smb) for smb in self.smbs if smb.pulling))
        if outage:
            await self.pg_up(sessions)
        for attempt in retry_times(first):
            if not waiting:
                break
            clock.freeze(attempt)
            still = []
            for smb, linked in waiting:
                try:
                    await smb.qbo.nightly(linked)
                    self.report.retries_that_worked += 1
                except PullFailed:
                    self.report.pull_failures += 1
                    still.append((smb, linked))
            waiting = still
        for smb, _ in waiting:
            if smb.group == "revoked":
                smb.pulling = False  # the SMB sees "reconnect your bank" and gives up

    async def updates(self, day: int) -> None:
        clock.freeze(START + timedelta(days=day, hours=15))
        for s_i, smb in enumerate(self.smbs):
            if smb.group == "steady" and (s_i + day) % 7 == 0:
                linked = next(iter(smb.qbo.accounts.values()))
                try:
                    await smb.qbo.update(linked)
                    self.report.updates += 1
                except PullFailed:
                    self.report.pull_failures += 1

    async def behave(self, http: httpx.AsyncClient, day: int) -> None:
        """SMBs who stop pulling and come back, a client who revokes."""
        for smb in self.smbs:
            if smb.group == "stale":
                smb.pulling = not (STALE_GROUP[0] <= day < STALE_GROUP[1])
            elif smb.group == "gone":
                smb.pulling = not (GONE_GROUP[0] <= day < GONE_GROUP[1])
            elif smb.group == "revoked" and day == REVOKE_DAY:
                clock.freeze(START + timedelta(days=day, hours=16))
                r = await http.delete(
                    f"{smb.connection_path}/connectionInfo/bankFeedAccounts/credentials",
                    headers=basic(smb.api_key),
                )
                assert r.status_code in (200, 204), r.text
                self.report.faults["client revoked credentials"] += 1

    # ---- invariants -----------------------------------------------------------------------
    async def check(self, sessions: Any, day: int) -> None:
        self.report.checks += 1
        async with sessions() as session:
            sent = (
                await session.execute(
                    select(
                        BankTransaction.account_pk,
                        BankTransaction.transaction_id,
                        BankTransaction.sent_at,
                    ).where(BankTransaction.sent_at.is_not(None))
                )
            ).all()
            stored = {
                (str(pk), tid)
                for pk, tid in (
                    await session.execute(
                        select(BankTransaction.account_pk, BankTransaction.transaction_id)
                    )
                ).all()
            }
            accounts = {
                str(a.pk): a for a in (await session.execute(select(SourceAccount))).scalars()
            }
            events = dict(
                (
                    await session.execute(
                        select(WebhookEvent.event_type, func.count()).group_by(
                            WebhookEvent.event_type
                        )
                    )
                ).all()
            )
        self.report.webhooks = events
        ledgers = {idx: linked for smb in self.smbs for idx, linked in smb.qbo.accounts.items()}
        duplicates = lost = bad = 0
        for linked in ledgers.values():
            ours = Counter(
                row["transactionDescription"].removeprefix("Soak ")
                for row in linked.ledger.values()
            )
            duplicates += sum(n - 1 for n in ours.values() if n > 1)
            bad += len(set(ours) & self.refused)
        for pk, tid, sent_at in sent:
            linked = ledgers[str(pk)]
            pulled_since = linked.last_success is not None and sent_at < linked.last_success
            if pulled_since and _intuit_id(str(pk), tid) not in linked.ledger:
                lost += 1
        # Every acknowledged id is stored, unless its feed was disconnected before the send
        # (its operation failed and withdrew it: the gone and revoked groups only).
        for smb in self.smbs:
            if smb.group in ("gone", "revoked"):
                continue
            for account in smb.accounts:
                idx = self.idx_of[(smb.connection_path, account)]
                lost += sum(1 for tid in self.acked[idx] if (idx, tid) not in stored)
        self.report.duplicates += duplicates
        self.report.lost += lost
        self.report.rejected_in_ledger += bad
        self.report.status_mismatches += self.check_statuses(day, accounts)
        assert (duplicates, lost, bad) == (0, 0, 0), (day, duplicates, lost, bad)

    def check_statuses(self, day: int, accounts: dict[str, SourceAccount]) -> int:
        """Each group's accounts are where the rules put them after this day's runs."""
        wrong = 0
        for smb in self.smbs:
            expected: tuple[str, bool] = ("connected", False)  # (status, stale)
            # The last pull is the nightly of the stop day; the first again, the night after
            # the resume day.
            if smb.group == "stale" and STALE_GROUP[0] + 2 <= day <= STALE_GROUP[1]:
                expected = ("connected", True)
            if smb.group == "gone" and GONE_GROUP[0] + 2 <= day <= GONE_GROUP[1]:
                gone_for = day - GONE_GROUP[0]
                expected = ("disconnected", True) if gone_for >= 10 else ("connected", True)
            if smb.group == "revoked" and day >= REVOKE_DAY + 2:
                last = REVOKE_DAY  # the last successful nightly
                expected = ("disconnected", True) if day - last >= 10 else ("connected", True)
            for idx in smb.qbo.accounts:
                row = accounts[idx]
                if (row.status, row.stale_since is not None) != expected:
                    wrong += 1
        assert not wrong, (day, wrong)
        return wrong

    def check_webhooks(self) -> None:
        """Once per stale episode, once per return: what the groups did, nothing more."""
        size = {g: sum(len(s.accounts) for s in self.smbs if s.group == g) for g in GROUPS}
        d = self.days
        expect_stale = (
            (size["stale"] if d >= STALE_GROUP[0] + 2 else 0)
            + (size["gone"] if d >= GONE_GROUP[0] + 2 else 0)
            + (size["revoked"] if d >= REVOKE_DAY + 2 else 0)
        )
        expect_fresh = (size["stale"] if d > STALE_GROUP[1] else 0) + (
            size["gone"] if d > GONE_GROUP[1] else 0
        )
        stale = self.report.webhooks.get("bankFeeds.sourceAccount.stale", 0)
        fresh = self.report.webhooks.get("bankFeeds.sourceAccount.fresh", 0)
        if (stale, fresh) != (expect_stale, expect_fresh):
            self.report.status_mismatches += 1
        assert (stale, fresh) == (expect_stale, expect_fresh), (stale, fresh)

    def phase(self, name: str) -> None:
        now = time.perf_counter()
        self.report.phases[name] = self.report.phases.get(name, 0.0) + now - self._mark
        self._mark = now

    # ---- the month ------------------------------------------------------------------------
    async def run(self) -> Report:
        started = self._mark = time.perf_counter()
        app = create_app(self.settings)
        # Fifteen thousand request lines would cost more than the month itself: warnings only.
        quiet = [logging.getLogger(name) for name in ("httpx", "app.request", "app.jobs")]
        levels = [logger.level for logger in quiet]
        for logger in quiet:
            logger.setLevel(logging.WARNING)
        try:
            return await self._run(app, started)
        finally:
            for logger, level in zip(quiet, levels, strict=True):
                logger.setLevel(level)
            clock.reset()

    async def _run(self, app: Any, started: float) -> Report:
        async with app.router.lifespan_context(app):
            sessions = app.state.services.sessions
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://soak.test", timeout=30
            ) as http:
                await self.setup(http, sessions)
                self.phase("setup")
                for day in range(1, self.days + 1):
                    await self.send(sessions, day)
                    self.phase("send")
                    await self.nightly(sessions, day, day == OUTAGE_DAY)
                    self.phase("nightly")
                    clock.freeze(START + timedelta(days=day, hours=12, minutes=30))
                    await detect(sessions, self.settings)
                    await detect_stale_feeds(sessions, self.settings)
                    self.phase("detect")
                    clock.freeze(START + timedelta(days=day, hours=14))
                    await self.push_all(http, sessions, day, day == OUTAGE_DAY)
                    self.phase("push")
                    await self.updates(day)
                    await self.behave(http, day)  # decides who pulls tomorrow night
                    self.phase("update")
                    await self.check(sessions, day)
                    self.phase("check")
                self.check_webhooks()
        self.report.pulls = sum(s.qbo.pulls for s in self.smbs)
        self.report.seconds = time.perf_counter() - started
        return self.report


def _intuit_id(account_pk: str, transaction_id: str) -> str:
    from app.idx.service import TRANSACTION_NAMESPACE

    return str(uuid.uuid5(TRANSACTION_NAMESPACE, f"{account_pk}/{transaction_id}"))


def soak_settings(database_url: str, redis_url: str, data_dir: Any) -> Settings:
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        redis_url=redis_url,
        redis_prefix=f"soak{secrets.token_hex(4)}:",
        public_base_url="http://link.test",
        idx_ip_lock_after=10_000_000,
        idx_requests_per_minute=10_000_000,
        link_requests_per_minute=10_000_000,
        rate_limit_concurrency=1000,
        rate_limit_daily_quota=10_000_000,
    )
    migrate.upgrade(settings)
    return settings


async def month(
    settings: Settings,
    pg: Any,
    *,
    tenants: int = 3,
    companies: int = 10,
    per_connection: int = 11,
    days: int = 30,
) -> Report:
    return await Month(
        settings,
        pg,
        tenants=tenants,
        companies=companies,
        per_connection=per_connection,
        days=days,
    ).run()


def run(args: Any) -> dict[str, Any]:
    """`python -m bench soak`: needs PostgreSQL server binaries and a Redis (REDIS_URL or the
    embedded one)."""
    import tempfile
    from pathlib import Path

    from tests.faults import ThrowawayPostgres

    pg = ThrowawayPostgres()
    pg.start()
    try:
        data = Path(tempfile.mkdtemp(prefix="bankfeeds-soak-"))
        settings = soak_settings(pg.url, args.redis or "", data)
        report = asyncio.run(month(settings, pg, days=args.days))
    finally:
        pg.remove()
    print(report.table())
    return {}
