"""Certification of locked accounts: recompute only the days something touched since the last
run (a line pending, sent or re-served since, a bank figure, a day still waiting for delivery),
carrying the previous day's state forward; issue a new revision only when a day's content changed.

Every caller holds the account's row lock (the daily send's claim, the pull's, the re-serve's,
the job's claim), and (account, day, revision) is unique: a revision is issued exactly once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.certificates import events, repository, rules
from app.certificates.tables import BalanceCertificate, CertificateState

_NOT_CERTIFIED = (rules.PENDING, rules.GAP)  # what the "oldest uncertified day" counts


def _stored_content(row: BalanceCertificate) -> tuple[object, ...]:
    return (
        row.opening,
        row.credits,
        row.debits,
        row.count,
        row.closing,
        row.expected_closing,
        row.lines_digest,
    )


def _delivered(
    sent_at: datetime | None,
    row_id: int,
    pulls: Sequence[tuple[datetime, datetime, int, datetime, int]],
) -> datetime | None:
    """When a pull first carried the line since it was (last) sent: the pull log's rule
    (transactions.history_repository.delivered_at), applied to the few pulls in hand."""
    if sent_at is None:
        return None
    key = (sent_at, row_id)
    for pulled_at, first_at, first_id, last_at, last_id in pulls:
        if pulled_at >= sent_at and (first_at, first_id) <= key <= (last_at, last_id):
            return pulled_at
    return None


def _issue(
    st: CertificateState, made: rules.Day, revision: int, after_gap: bool, now: datetime
) -> dict[str, Any]:
    """The new revision's row, as values for one bulk INSERT (no ORM object per row)."""
    record = rules.chain_record(
        made.day,
        revision,
        made.opening,
        made.credits,
        made.debits,
        made.count,
        made.closing,
        made.expected_closing,
        made.lines_digest,
    )
    previous = st.chain_tip
    st.chain_tip = rules.chain_digest(previous, record)
    st.seq += 1
    return {
        "account_pk": st.account_pk,
        "day": made.day,
        "revision": revision,
        "seq": st.seq,
        "is_current": True,
        "opening": made.opening,
        "credits": made.credits,
        "debits": made.debits,
        "count": made.count,
        "closing": made.closing,
        "expected_closing": made.expected_closing,
        "lines_digest": made.lines_digest,
        "chain_digest": st.chain_tip,
        "previous_digest": previous,
        "status": made.status,
        "first_break": made.first_break,
        "difference": made.difference,
        "delivered_through": made.delivered_through,
        "after_gap": after_gap,
        "issued_at": now,
        "certified_at": now if made.status == rules.CERTIFIED else None,
        "digested_at": None,
    }


def _restate(row: BalanceCertificate, made: rules.Day, after_gap: bool, now: datetime) -> None:
    """Same content, new knowledge: delivery (or a re-serve undoing it) moves the status."""
    row.status = made.status
    row.delivered_through = made.delivered_through
    row.after_gap = after_gap
    if made.status == rules.CERTIFIED and row.certified_at is None:
        row.certified_at = now


@dataclass
class _Chunk:
    """What a chunk of accounts' runs read, in a few statements for the whole chunk."""

    lines: dict[uuid.UUID, list[tuple[rules.Line, datetime | None, int]]]
    pulls: dict[uuid.UUID, list[tuple[datetime, datetime, int, datetime, int]]]
    figures: dict[uuid.UUID, dict[date, Decimal]]
    current: dict[uuid.UUID, list[BalanceCertificate]]


async def _starts(
    session: AsyncSession, account_pks: Sequence[uuid.UUID], now: datetime
) -> tuple[dict[uuid.UUID, CertificateState], dict[uuid.UUID, date]]:
    """Each account's state (made for a first run) and the day its run starts from: the
    earliest day something touched since its last run (none: nothing to do)."""
    states = await repository.states(session, account_pks)
    new = [pk for pk in account_pks if pk not in states]
    starts: dict[uuid.UUID, date] = dict(await repository.first_days(session, new)) if new else {}
    for pk in new:
        states[pk] = CertificateState(account_pk=pk, seq=0, chain_tip=rules.GENESIS, gaps=0)
        repository.add(session, states[pk])
    old = {pk: st for pk, st in states.items() if pk not in new}
    since = {pk: st.sent_through for pk, st in old.items() if st.sent_through is not None}
    touched = await repository.touched_from(session, since) if since else {}
    for pk, st in old.items():
        found = [d for d in (st.dirty_from, st.waiting_from, touched.get(pk)) if d is not None]
        if found:
            starts[pk] = min(found)
    # An account nothing touched keeps its state as it is: a pull that finds nothing new
    # writes nothing (a later send's instant is after `sent_through` anyway).
    for pk, st in states.items():
        if pk in starts or pk in new:
            st.sent_through, st.dirty_from, st.updated_at = now, None, now
    return states, starts


async def _read(session: AsyncSession, starts: dict[uuid.UUID, date]) -> _Chunk:
    lines = await repository.chunk_lines(session, starts)
    first_sent = {
        pk: min(at for _, at, _ in rows if at is not None)
        for pk, rows in lines.items()
        if any(at is not None for _, at, _ in rows)
    }
    return _Chunk(
        lines,
        await repository.chunk_pulls(session, first_sent),
        await repository.chunk_figures(session, starts),
        await repository.chunk_current(session, starts),
    )


async def _carry(
    session: AsyncSession, st: CertificateState, start: date, nearby: list[BalanceCertificate]
) -> rules.Carry:
    pk = st.account_pk
    before = next((c for c in reversed(nearby) if c.day < start), None)
    if before is None and st.seq:  # not within CARRY_DAYS: look further back, this account only
        before = await repository.current_before(session, pk, start)
    if before is None:
        return rules.Carry()
    return rules.Carry(before.closing, before.status == rules.GAP or before.after_gap)


async def _certify_account(
    session: AsyncSession,
    st: CertificateState,
    start: date,
    chunk: _Chunk,
    now: datetime,
) -> list[dict[str, Any]]:
    """Bring one (locked) account's certificates up to date; returns the revisions to insert."""
    pk = st.account_pk
    nearby = chunk.current[pk]
    carry = await _carry(session, st, start, nearby)
    pulls = chunk.pulls.get(pk, [])
    by_day: dict[date, list[rules.Line]] = {}
    for line, sent_at, row_id in chunk.lines[pk]:
        delivered = _delivered(sent_at, row_id, pulls)
        by_day.setdefault(line.cleared_on, []).append(replace(line, delivered_at=delivered))
    figures = chunk.figures[pk]
    existing = {c.day: c for c in nearby if c.day >= start}

    issued: list[dict[str, Any]] = []
    gaps = st.gaps - sum(1 for c in existing.values() if c.status == rules.GAP)
    waiting: date | None = None
    oldest = (
        st.oldest_uncertified if st.oldest_uncertified and st.oldest_uncertified < start else None
    )
    for day in sorted(set(by_day) | set(figures) | set(existing)):
        made = rules.certify(day, by_day.get(day, []), figures.get(day), carry)
        old = existing.get(day)
        if old is not None and _stored_content(old) == made.content:
            _restate(old, made, carry.after_gap, now)
        else:
            if old is not None:
                old.is_current = False
            issued.append(_issue(st, made, old.revision + 1 if old else 1, carry.after_gap, now))
        carry = made.carry(carry)
        gaps += made.status == rules.GAP
        if made.status == rules.PENDING and waiting is None:
            waiting = day
        if made.status in _NOT_CERTIFIED and oldest is None:
            oldest = day
    st.gaps, st.waiting_from, st.oldest_uncertified = gaps, waiting, oldest
    return issued


async def certify(session: AsyncSession, account_pks: Sequence[uuid.UUID]) -> int:
    """Certify these locked accounts, reading them as one chunk; a day that turns `gap` in a
    new revision is announced (balanceGap, once per day and revision: the revision is issued
    once). Returns the revisions issued."""
    if not account_pks:
        return 0
    now = clock.now()
    states, starts = await _starts(session, account_pks, now)
    issued: list[dict[str, Any]] = []
    if starts:
        chunk = await _read(session, starts)
        for pk, start in starts.items():
            issued += await _certify_account(session, states[pk], start, chunk, now)
    await session.flush()
    await repository.insert_certificates(session, issued)
    gaps = [BalanceCertificate(**row) for row in issued if row["status"] == rules.GAP]
    if gaps:
        await events.gaps_found(session, gaps)
    return len(issued)
