"""Certification of locked accounts: recompute only the days something touched since the last
run (a line pending, sent or re-served since, a bank figure, a day still waiting for delivery),
carrying the previous day's state forward; issue a new revision only when a day's content changed.

Every caller holds the account's row lock (the daily send's claim, the pull's, the re-serve's,
the job's claim), and (account, day, revision) is unique: a revision is issued exactly once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime

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


async def _start(session: AsyncSession, pk: uuid.UUID, st: CertificateState) -> date | None:
    found = [
        st.dirty_from,
        st.waiting_from,
        await repository.pending_from(session, pk),
        await repository.sent_since(session, pk, st.sent_through)
        if st.sent_through is not None
        else None,
    ]
    days = [d for d in found if d is not None]
    return min(days) if days else None


def _issue(
    st: CertificateState, made: rules.Day, revision: int, after_gap: bool, now: datetime
) -> BalanceCertificate:
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
    return BalanceCertificate(
        account_pk=st.account_pk,
        day=made.day,
        revision=revision,
        seq=st.seq,
        is_current=True,
        opening=made.opening,
        credits=made.credits,
        debits=made.debits,
        count=made.count,
        closing=made.closing,
        expected_closing=made.expected_closing,
        lines_digest=made.lines_digest,
        chain_digest=st.chain_tip,
        previous_digest=previous,
        status=made.status,
        first_break=made.first_break,
        difference=made.difference,
        delivered_through=made.delivered_through,
        after_gap=after_gap,
        issued_at=now,
        certified_at=now if made.status == rules.CERTIFIED else None,
    )


def _restate(row: BalanceCertificate, made: rules.Day, after_gap: bool, now: datetime) -> None:
    """Same content, new knowledge: delivery (or a re-serve undoing it) moves the status."""
    row.status = made.status
    row.delivered_through = made.delivered_through
    row.after_gap = after_gap
    if made.status == rules.CERTIFIED and row.certified_at is None:
        row.certified_at = now


async def certify_account(session: AsyncSession, pk: uuid.UUID) -> list[BalanceCertificate]:
    """Bring one (locked) account's certificates up to date; returns the revisions issued."""
    now = clock.now()
    st = await repository.state(session, pk)
    if st is None:
        st = CertificateState(account_pk=pk, seq=0, chain_tip=rules.GENESIS, gaps=0)
        repository.add(session, st)
        start = await repository.first_day(session, pk)
    else:
        start = await _start(session, pk, st)
    st.sent_through, st.dirty_from, st.updated_at = now, None, now
    if start is None:
        return []

    before = await repository.current_before(session, pk, start)
    carry = (
        rules.Carry(before.closing, before.status == rules.GAP or before.after_gap)
        if before is not None
        else rules.Carry()
    )
    lines = await repository.lines_from(session, pk, start)
    sent = [at for _, at, _ in lines if at is not None]
    pulls = await repository.pulls_since(session, pk, min(sent)) if sent else []
    by_day: dict[date, list[rules.Line]] = {}
    for line, sent_at, row_id in lines:
        delivered = _delivered(sent_at, row_id, pulls)
        by_day.setdefault(line.cleared_on, []).append(replace(line, delivered_at=delivered))
    figures = await repository.figures_from(session, pk, start)
    existing = await repository.current_from(session, pk, start)

    issued: list[BalanceCertificate] = []
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
            row = _issue(st, made, old.revision + 1 if old else 1, carry.after_gap, now)
            repository.add(session, row)
            issued.append(row)
        carry = made.carry(carry)
        gaps += made.status == rules.GAP
        if made.status == rules.PENDING and waiting is None:
            waiting = day
        if made.status in _NOT_CERTIFIED and oldest is None:
            oldest = day
    st.gaps, st.waiting_from, st.oldest_uncertified = gaps, waiting, oldest
    await session.flush()
    return issued


async def certify(session: AsyncSession, account_pks: Sequence[uuid.UUID]) -> int:
    """Certify these locked accounts; a day that turns `gap` in a new revision is announced
    (balanceGap, once per day and revision: the revision is issued once). Returns revisions."""
    issued: list[BalanceCertificate] = []
    for pk in account_pks:
        issued += await certify_account(session, pk)
    gaps = [c for c in issued if c.status == rules.GAP]
    if gaps:
        await events.gaps_found(session, gaps)
    return len(issued)
