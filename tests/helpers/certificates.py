"""Shared steps of the balance-certificate tests: read an account's certificates, and compute
them from scratch (the reference) straight from the database."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.certificates import rules
from app.certificates.tables import BalanceCertificate, DailyBalance
from app.transactions.delivery import delivered_at
from app.transactions.tables import BankTransaction
from tests.helpers.feeds import Feed

GAP_EVENT = "bankFeeds.sourceAccount.balanceGap"
DIGEST_EVENT = "bankFeeds.sourceAccount.balanceCertified"


def line(tid: str, on: str, amount: str, balance: str | None) -> dict[str, Any]:
    item: dict[str, Any] = {"id": tid, "date": on, "description": f"Line {tid}", "amount": amount}
    if balance is not None:
        item["balance"] = balance
    return item


async def certificates(feed: Feed, **params: Any) -> dict[str, dict[str, Any]]:
    r = await feed.api.call("GET", f"{feed.account_path}/balanceCertificates", params=params)
    assert r.status_code == 200, r.text
    return {c["date"]: c for c in r.json()["results"]}


async def from_scratch(
    sessions: async_sessionmaker[AsyncSession], account_pk: uuid.UUID
) -> dict[date, rules.Day]:
    """Every day recomputed from all lines, with delivery read by the push history's own SQL
    rule (not the engine's), and every bank figure."""
    async with sessions() as session:
        stmt = (
            select(BankTransaction, delivered_at())
            .where(BankTransaction.account_pk == account_pk)
            .order_by(BankTransaction.cleared_on, BankTransaction.id)
        )
        rows = (await session.execute(stmt)).all()
        figures = {
            d.day: d.closing
            for d in (
                await session.execute(
                    select(DailyBalance).where(DailyBalance.account_pk == account_pk)
                )
            ).scalars()
        }
    by_day: dict[date, list[rules.Line]] = {}
    for t, delivered in rows:
        by_day.setdefault(t.cleared_on, []).append(
            rules.Line(
                t.transaction_id, t.cleared_on, t.description, t.amount, t.balance, delivered
            )
        )
    days = sorted(set(by_day) | set(figures))
    made = rules.reference([(d, by_day.get(d, []), figures.get(d)) for d in days])
    return {d.day: d for d in made}


async def stored(
    sessions: async_sessionmaker[AsyncSession], account_pk: uuid.UUID
) -> list[BalanceCertificate]:
    async with sessions() as session:
        stmt = (
            select(BalanceCertificate)
            .where(BalanceCertificate.account_pk == account_pk)
            .order_by(BalanceCertificate.seq)
        )
        return list((await session.execute(stmt)).scalars())


def money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))
