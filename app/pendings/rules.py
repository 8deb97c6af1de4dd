"""Which held pending a cleared line belongs to, as a pure function of the push and the holds.

First rule that applies wins, per cleared item:
  1. sameId                the item's id is a pending's id;
  2. pendingTransactionId  the item names one (unknown: the link waits for the pending);
  3. auto (opt-in)         exactly one held pending on the account with the same sign and
                           amount, authorized in the 8 days before the cleared date, and no other
                           item of the push is a candidate for it. Several equal holds, or one
                           whose description matches and amount is within +30 % (a tip), give a
                           suggestion only.
A pending already posted takes another capture only from an item saying `partialCapture`. Linking
never decides whether a line is published: the cleared line is published either way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from app.pendings.tables import EXPIRED, HELD, POSTED, RELEASED

AUTO_WINDOW_DAYS = 8
TIP_MARGIN = Decimal("1.30")
SAME_ID, BY_REFERENCE, AUTO = "sameId", "pendingTransactionId", "auto"


@dataclass(frozen=True)
class Cleared:
    id: str
    cleared_on: date
    amount: Decimal
    description: str
    pending_ref: str | None = None
    partial: bool = False


@dataclass(frozen=True)
class Hold:
    pending_id: str
    status: str
    authorized_on: date
    amount: Decimal
    description: str


@dataclass(frozen=True)
class Planned:
    pending_id: str
    transaction_id: str
    matched_by: str
    state: str  # linked | waiting
    partial: bool
    cleared_amount: Decimal
    amount_delta: Decimal | None
    authorized_on: date | None


@dataclass
class Plan:
    links: list[Planned] = field(default_factory=list)
    suggestions: list[tuple[str, str, str]] = field(default_factory=list)  # pending, tx, reason
    warnings: list[tuple[str, str, str]] = field(default_factory=list)  # item, rule, message
    posted: set[str] = field(default_factory=set)  # pendings that become posted

    @property
    def expired_linked(self) -> set[str]:
        return {w[0] for w in self.warnings if w[1] == "PendingExpired"}


def normalized(text: str) -> str:
    return " ".join(text.casefold().split())


def _in_window(hold: Hold, item: Cleared) -> bool:
    return (
        item.cleared_on - timedelta(days=AUTO_WINDOW_DAYS)
        <= hold.authorized_on
        <= (item.cleared_on)
    )


def _same_sign(a: Decimal, b: Decimal) -> bool:
    return (a > 0) == (b > 0)


class _Planner:
    def __init__(self, holds: Mapping[str, Hold]) -> None:
        self.holds = holds
        self.plan = Plan()
        self.claimed: set[str] = set()  # pendings linked by this push

    def link(self, item: Cleared, hold: Hold, by: str, partial: bool = False) -> None:
        self.claimed.add(hold.pending_id)
        self.plan.posted.add(hold.pending_id)
        self.plan.links.append(
            Planned(
                hold.pending_id,
                item.id,
                by,
                "linked",
                partial,
                item.amount,
                item.amount - hold.amount,
                hold.authorized_on,
            )
        )
        if hold.status == EXPIRED:
            self.plan.warnings.append(
                (
                    item.id,
                    "PendingExpired",
                    f"{item.id}: linked to pending {hold.pending_id}, which had expired; "
                    "published all the same.",
                )
            )

    def explicit(self, item: Cleared, hold: Hold, by: str) -> None:
        """Rules 1 and 2 once the pending is known."""
        taken = hold.status == POSTED or hold.pending_id in self.claimed
        if hold.status == RELEASED:
            self.plan.warnings.append(
                (
                    item.id,
                    "PendingReleased",
                    f"{item.id}: pending {hold.pending_id} was released; not linked, "
                    "published all the same.",
                )
            )
        elif taken and not item.partial:
            self.plan.warnings.append(
                (
                    item.id,
                    "PendingAlreadyPosted",
                    f"{item.id}: pending {hold.pending_id} is already posted; not linked "
                    "(send partialCapture: true for another capture), published all the same.",
                )
            )
        else:
            self.link(item, hold, by, partial=item.partial)

    def waiting(self, item: Cleared, pending_id: str) -> None:
        self.plan.links.append(
            Planned(
                pending_id, item.id, BY_REFERENCE, "waiting", item.partial, item.amount, None, None
            )
        )

    def held(self) -> list[Hold]:
        return [
            h for h in self.holds.values() if h.status == HELD and h.pending_id not in self.claimed
        ]

    def auto(self, items: Sequence[Cleared]) -> None:
        """Rule 3 over the push's remaining items at once (it needs every candidate)."""
        held = self.held()
        candidates = {
            item.id: [
                h
                for h in held
                if h.amount == item.amount
                and _same_sign(h.amount, item.amount)
                and _in_window(h, item)
            ]
            for item in items
        }
        wanted = Counter(h.pending_id for found in candidates.values() for h in found)
        for item in items:
            found = candidates[item.id]
            if len(found) == 1 and wanted[found[0].pending_id] == 1:
                self.link(item, found[0], AUTO)
            elif found:
                for h in found:
                    self.plan.suggestions.append((h.pending_id, item.id, "sameAmount"))
            else:
                tips = [
                    h
                    for h in held
                    if _same_sign(h.amount, item.amount)
                    and abs(h.amount) < abs(item.amount) <= abs(h.amount) * TIP_MARGIN
                    and normalized(h.description) == normalized(item.description)
                    and _in_window(h, item)
                ]
                if len(tips) == 1:
                    self.plan.suggestions.append((tips[0].pending_id, item.id, "description"))


def plan(items: Sequence[Cleared], holds: Mapping[str, Hold], *, auto: bool) -> Plan:
    """The links, suggestions and warnings of one push (see the module's docstring)."""
    planner = _Planner(holds)
    rest: list[Cleared] = []
    for item in items:
        if item.id in holds:
            planner.explicit(item, holds[item.id], SAME_ID)
        elif item.pending_ref:
            hold = holds.get(item.pending_ref)
            if hold is None:
                planner.waiting(item, item.pending_ref)
            else:
                planner.explicit(item, hold, BY_REFERENCE)
        else:
            rest.append(item)
    if auto and rest:
        planner.auto(rest)
    return planner.plan
