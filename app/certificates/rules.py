"""The arithmetic of a balance certificate, pure: one day's lines and the bank's closing figure,
given the previous day's carry, make the day's figures, digests and status (docs/CERTIFICATES.md).

No I/O here: the service feeds it stored rows, `bankfeeds certificates verify` an export, and the
property test a reference computed from scratch.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from app.kit.money import amount_text

CERTIFIED, PENDING, GAP, UNKNOWN = "certified", "pendingDelivery", "gap", "unknown"
STATUSES = (CERTIFIED, PENDING, GAP, UNKNOWN)
GENESIS = "0" * 64  # the chain's "previous digest" before an account's first certificate
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Line:
    """One accepted line of the day, in acceptance order (the order the bank gave them)."""

    transaction_id: str
    cleared_on: date
    description: str
    amount: Decimal
    balance: Decimal | None
    delivered_at: datetime | None = None


@dataclass(frozen=True)
class Carry:
    """What a day hands the next: the bank's closing figure and whether a gap stands behind."""

    closing: Decimal | None = None
    after_gap: bool = False


@dataclass(frozen=True)
class Day:
    day: date
    opening: Decimal | None
    credits: Decimal
    debits: Decimal
    count: int
    closing: Decimal | None
    expected_closing: Decimal | None
    lines_digest: str
    status: str
    first_break: str | None
    difference: Decimal | None
    delivered_through: datetime | None

    @property
    def content(self) -> tuple[object, ...]:
        """What a revision is made of: a change in any of these is a new revision."""
        return (
            self.opening,
            self.credits,
            self.debits,
            self.count,
            self.closing,
            self.expected_closing,
            self.lines_digest,
        )

    def carry(self, before: Carry) -> Carry:
        return Carry(self.closing, self.status == GAP or before.after_gap)


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def line_record(line: Line) -> str:
    return _json(
        [
            line.transaction_id,
            line.cleared_on.isoformat(),
            line.description,
            amount_text(line.amount),
            amount_text(line.balance),
        ]
    )


def lines_digest(lines: Sequence[Line]) -> str:
    """SHA-256 (hex) of the day's lines in acceptance order (the order they were pushed), one
    JSON array per line [id, date, description, amount, balance], joined by "\\n", UTF-8."""
    return hashlib.sha256("\n".join(line_record(x) for x in lines).encode()).hexdigest()


def chain_record(
    day: date,
    revision: int,
    opening: Decimal | None,
    credits: Decimal,
    debits: Decimal,
    count: int,
    closing: Decimal | None,
    expected: Decimal | None,
    digest: str,
) -> str:
    return _json(
        [
            day.isoformat(),
            revision,
            amount_text(opening),
            amount_text(credits),
            amount_text(debits),
            count,
            amount_text(closing),
            amount_text(expected),
            digest,
        ]
    )


def chain_digest(previous: str, record: str) -> str:
    """SHA-256 (hex) of the previous certificate's chainDigest, "\\n", and this one's record."""
    return hashlib.sha256(f"{previous}\n{record}".encode()).hexdigest()


def balance_order(opening: Decimal | None, lines: Sequence[Line]) -> list[Line]:
    """The lines in the order their balances chain: from the running balance, the first line (in
    acceptance order) whose balance is the running balance plus its amount, else the first line
    left. A line accepted late (pushed after the one that followed it at the bank) takes its
    place; a missing line leaves the line after it where the chain breaks."""
    fits: dict[Decimal, deque[int]] = {}
    for place, line in enumerate(lines):
        if line.balance is not None:
            fits.setdefault(line.balance - line.amount, deque()).append(place)
    taken = [False] * len(lines)
    order: list[Line] = []
    running, cursor = opening, 0
    while len(order) < len(lines):
        index: int | None = None
        queue = fits.get(running) if running is not None else None
        while queue:
            candidate = queue.popleft()
            if not taken[candidate]:
                index = candidate
                break
        if index is None:
            while taken[cursor]:
                cursor += 1
            index = cursor
        taken[index] = True
        line = lines[index]
        order.append(line)
        if line.balance is not None:
            running = line.balance
        elif running is not None:
            running += line.amount
    return order


def _walk(
    opening: Decimal | None, lines: Sequence[Line]
) -> tuple[Decimal | None, str | None, Decimal | None]:
    """Run the balance through the lines (in balance order): (balance after the last, first
    line whose balance disagrees with the one before plus its amount, by how much)."""
    running = opening
    for line in lines:
        expected = running + line.amount if running is not None else None
        if line.balance is not None:
            if expected is not None and expected != line.balance:
                return running, line.transaction_id, line.balance - expected
            running = line.balance
        else:
            running = expected
    return running, None, None


def certify(day: date, lines: Sequence[Line], bank_closing: Decimal | None, before: Carry) -> Day:
    """The day's certificate. `bank_closing` is the bank's end-of-day figure when it sent one
    (`balances`); otherwise the day's last line's balance is the closing."""
    credits = sum((x.amount for x in lines if x.amount > 0), ZERO)
    debits = sum((x.amount for x in lines if x.amount < 0), ZERO)
    opening = before.closing
    ordered = balance_order(opening, lines)
    if opening is None and ordered and ordered[0].balance is not None:
        # The first anchored day: the bank's word for the balance before its first line.
        opening = ordered[0].balance - ordered[0].amount
        ordered = balance_order(opening, lines)
    closing = bank_closing
    if closing is None and ordered:
        closing = ordered[-1].balance
    expected = opening + credits + debits if opening is not None else None
    after, first_break, difference = _walk(opening, ordered)
    if first_break is None and closing is not None and after is not None and after != closing:
        difference = closing - after  # the lines explain a different closing: the day breaks
    delivered = [x.delivered_at for x in lines]
    through = max(delivered) if lines and None not in delivered else None  # type: ignore[type-var]
    # What QuickBooks was served for the day: the last line's balance, else the bank's figure.
    served = ordered[-1].balance if ordered and ordered[-1].balance is not None else closing
    if first_break is not None or difference is not None:
        status = GAP
    elif opening is None or closing is None or expected != closing or before.after_gap:
        status = UNKNOWN  # nothing anchors it, or a gap before it stands unexplained
    elif (lines and through is None) or served != closing:
        status = PENDING
    else:
        status = CERTIFIED
    return Day(
        day=day,
        opening=opening,
        credits=credits,
        debits=debits,
        count=len(lines),
        closing=closing,
        expected_closing=expected,
        lines_digest=lines_digest(lines),
        status=status,
        first_break=first_break,
        difference=difference,
        delivered_through=through if lines else None,
        # a day without lines is delivered vacuously: nothing to fetch
    )


def reference(
    days: Sequence[tuple[date, Sequence[Line], Decimal | None]],
) -> list[Day]:
    """Every day from scratch, in date order: what the incremental run must agree with."""
    carry = Carry()
    out = []
    for day, lines, closing in sorted(days, key=lambda d: d[0]):
        made = certify(day, lines, closing, carry)
        carry = made.carry(carry)
        out.append(made)
    return out
