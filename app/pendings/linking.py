"""Links between cleared lines and pendings, made in the transaction of whichever arrives
second: a cleared push (planned by `rules.plan` before its rows are written, written after) or
a pending that arrives after its cleared line; undone when a push's lines are withdrawn. Also
the daily expiry and purge of holds.

The push (app/transactions/, below) reaches this module through its hook `LINKS` and its signal
`WITHDRAWN`, which app.lifecycle.install() connects to `plan_push` and `withdrawn`."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.accounts.tables import SourceAccount
from app.kit.errors import BadRequest
from app.kit.principal import Principal
from app.kit.schemas import ErrorValidationItem
from app.pendings import events, repository, rules, schemas
from app.pendings.tables import EXPIRED, POSTED, PendingLink, PendingSuggestion, PendingTransaction

AUTO = "auto"


def raw_id(raw: Any, index: int) -> str:
    if isinstance(raw, dict) and isinstance(raw.get("id"), str) and raw["id"].strip():
        return str(raw["id"])
    return f"transactions[{index}]"


async def arrivals(
    session: AsyncSession,
    account: SourceAccount,
    scope: events.Scope,
    arrived: Sequence[PendingTransaction],
) -> None:
    """Pendings that arrive after their cleared line: links waiting for them are made, and a
    cleared line already accepted with the same id links to it (sameId)."""
    if not arrived:
        return
    by_id = {p.pending_id: p for p in arrived}
    waiting = [
        link
        for link in await repository.links_of_pendings(session, account.pk, list(by_id))
        if link.state == "waiting"
    ]
    lines = await repository.cleared_lines(
        session, account.pk, [*by_id, *(w.transaction_id for w in waiting)]
    )
    linked = await repository.linked_transaction_ids(session, account.pk, list(by_id))
    now = clock.now()
    made: dict[str, list[tuple[str, str, Decimal | None]]] = {}
    for link in waiting:
        pending = by_id[link.pending_id]
        if made.get(pending.pending_id) and not link.partial:
            continue  # already posted by an earlier line: only a partial capture links too
        line = lines.get(link.transaction_id)
        link.state, link.linked_at = "linked", now
        link.amount_delta = link.cleared_amount - pending.amount
        link.serve_authorized_on = (
            pending.authorized_on if line is not None and line.sent_at is None else None
        )
        made.setdefault(pending.pending_id, []).append(
            (link.transaction_id, link.matched_by, link.amount_delta)
        )
    for pid, pending in by_id.items():
        line = lines.get(pid)
        if line is None or pid in linked or made.get(pid):
            continue
        link = PendingLink(
            account_pk=account.pk,
            pending_id=pid,
            transaction_id=pid,
            state="linked",
            matched_by=rules.SAME_ID,
            partial=False,
            cleared_amount=line.amount,
            amount_delta=line.amount - pending.amount,
            serve_authorized_on=pending.authorized_on if line.sent_at is None else None,
            created_at=now,
            linked_at=now,
            push_operation_key=line.push_operation_key,
        )
        await repository.add(session, link)
        made[pid] = [(pid, rules.SAME_ID, link.amount_delta)]
    subscribers = events.Subscribers()
    for pid, links in made.items():
        pending = by_id[pid]
        pending.status, pending.ended_at, pending.updated_at = POSTED, now, now
        await events.posted(session, scope, pid, links, subscribers)
    await session.flush()


# ---- links made by a cleared push -----------------------------------------------------------


def _extras(raw_items: Sequence[Any]) -> dict[str, tuple[str | None, bool]]:
    """pendingTransactionId and partialCapture of each cleared item (optional request fields)."""
    found: dict[str, tuple[str | None, bool]] = {}
    errors: list[ErrorValidationItem] = []
    for index, raw in enumerate(raw_items):
        if not isinstance(raw, dict) or (
            "pendingTransactionId" not in raw and "partialCapture" not in raw
        ):
            continue
        ident = raw_id(raw, index)
        ref, partial = raw.get("pendingTransactionId"), raw.get("partialCapture", False)
        if ref is not None and not (
            isinstance(ref, str) and len(ref.strip()) > 0 and len(ref) <= 100
        ):
            errors.append(
                ErrorValidationItem(
                    itemId=ident,
                    message=f"{ident}: pendingTransactionId must be a string of 1 to 100 "
                    "characters",
                    validatorName="PendingTransactionId",
                )
            )
        if not isinstance(partial, bool):
            errors.append(
                ErrorValidationItem(
                    itemId=ident,
                    message=f"{ident}: partialCapture must be true or false",
                    validatorName="PendingTransactionId",
                )
            )
        found[ident] = (ref if isinstance(ref, str) else None, partial is True)
    if errors:
        raise BadRequest(
            "The push was rejected and nothing was stored: see validation.errors.", errors=errors
        )
    return found


@dataclass
class PushLinks:
    """What a cleared push links, planned before its rows are written and written after, in
    the same transaction (nothing of it if the push is refused)."""

    account_pk: uuid.UUID
    scope: events.Scope | None
    holds: dict[str, PendingTransaction] = field(default_factory=dict)
    plan: rules.Plan = field(default_factory=rules.Plan)

    @property
    def warnings(self) -> list[ErrorValidationItem]:
        return [
            ErrorValidationItem(itemId=i, message=m, validatorName=r)
            for i, r, m in self.plan.warnings
        ]

    async def write(self, session: AsyncSession, operation_key: uuid.UUID) -> None:
        plan = self.plan
        if not (plan.links or plan.suggestions):
            return
        now = clock.now()
        assert self.scope is not None
        name = await repository.company_name(session, self.scope.company_id)
        scope = events.Scope(**{**self.scope.__dict__, "company_name": name})
        rows: list[object] = [
            PendingLink(
                account_pk=self.account_pk,
                pending_id=p.pending_id,
                transaction_id=p.transaction_id,
                push_operation_key=operation_key,
                state=p.state,
                matched_by=p.matched_by,
                partial=p.partial,
                cleared_amount=p.cleared_amount,
                amount_delta=p.amount_delta,
                serve_authorized_on=p.authorized_on,
                created_at=now,
                linked_at=now if p.state == "linked" else None,
            )
            for p in plan.links
        ]
        rows += [
            PendingSuggestion(
                account_pk=self.account_pk,
                pending_id=pid,
                transaction_id=tid,
                reason=reason,
                created_at=now,
            )
            for pid, tid, reason in plan.suggestions
        ]
        await repository.add(session, *rows)
        for pid in plan.posted:
            hold = self.holds[pid]
            if hold.status != POSTED:
                hold.status, hold.ended_at = POSTED, now
            hold.updated_at = now
        await session.flush()
        subscribers = events.Subscribers()
        made: dict[str, list[tuple[str, str, Decimal | None]]] = {}
        for p in plan.links:
            if p.state == "linked":
                made.setdefault(p.pending_id, []).append(
                    (p.transaction_id, p.matched_by, p.amount_delta)
                )
        for pid, links in made.items():
            await events.posted(session, scope, pid, links, subscribers)
        for pid, tid, reason in plan.suggestions:
            await events.suggested(session, scope, pid, tid, reason, subscribers)


class Pushed(Protocol):
    """A cleared item of a push as the transactions' rules accepted it."""

    @property
    def id(self) -> str: ...
    @property
    def cleared_on(self) -> date: ...
    @property
    def amount(self) -> Decimal: ...
    @property
    def description(self) -> str: ...


async def plan_push(
    session: AsyncSession,
    principal: Principal,
    company_id: uuid.UUID,
    connection_id: uuid.UUID,
    account_pk: uuid.UUID,
    account_id: str,
    raw_items: Sequence[Any],
    accepted: Sequence[Pushed],
) -> PushLinks:
    """The push's links (`transactions.service.LINKS`), read with its account locked. Holds
    read: those named by an item (its id or pendingTransactionId) and, in auto mode, every held
    one. A push that names no pending and whose account holds none it could link to (the usual
    push) costs one small query."""
    extras = _extras(raw_items)
    refs = {ref for ref, _ in extras.values() if ref}
    named = {i.id for i in accepted} | refs
    if not await repository.may_link(session, principal.tenant_id, account_pk, named):
        if not extras:
            return PushLinks(account_pk, None)
        holds: dict[str, rules.Hold] = {}
        rows: list[PendingTransaction] = []
        auto = False  # no hold to match: the mode changes nothing
    else:
        auto = await repository.matching(session, principal.tenant_id) == AUTO
        rows = await repository.pendings(
            session, account_pk, named, with_held=auto, for_update=True
        )
        holds = {
            r.pending_id: rules.Hold(
                r.pending_id, r.status, r.authorized_on, r.amount, r.description
            )
            for r in rows
        }
    items = [
        rules.Cleared(i.id, i.cleared_on, i.amount, i.description, *extras.get(i.id, (None, False)))
        for i in accepted
    ]
    scope = events.Scope(
        principal.tenant_id, principal.environment, company_id, "", connection_id, account_id
    )
    found = PushLinks(account_pk, scope, {r.pending_id: r for r in rows})
    found.plan = rules.plan(items, holds, auto=auto)
    return found


async def withdrawn(session: AsyncSession, operation_keys: list[uuid.UUID]) -> None:
    """Operations whose unsent lines were withdrawn (`transactions.events.WITHDRAWN`, sent where
    the withdrawal happens, in its transaction): their links go, their holds are held again."""
    await repository.unlink_operations(session, operation_keys, clock.now())


async def served_dates(
    session: AsyncSession, account_pk: uuid.UUID, ids: Sequence[str]
) -> dict[str, date]:
    """The pending's authorizedDate served as transactionDate of the lines linked before they
    were published."""
    return await repository.served_dates(session, account_pk, ids)


async def links_of_operation(
    session: AsyncSession, account_pk: uuid.UUID, operation_key: uuid.UUID | None
) -> schemas.Links:
    return schemas.Links(
        results=[
            schemas.link_wire(link)
            for link in await repository.links_of_operation(session, account_pk, operation_key)
        ]
    )


# ---- expiry and purge ------------------------------------------------------------------------


def _is_card(account_type: str | None) -> bool:
    return "credit" in (account_type or "").replace(" ", "").lower()


async def expire(session: AsyncSession, card_days: int, deposit_days: int) -> int:
    """Held pendings past their expiresOn, else `card_days`/`deposit_days` after authorization
    (in the company's "today"), become expired, announced."""
    now = clock.now()
    gone: list[repository.HeldRow] = []
    for row in await repository.held_everywhere(session):
        today = clock.today_in(row.zone)
        pending = row.pending
        if pending.expires_on is not None:
            due = today > pending.expires_on
        else:
            days = card_days if _is_card(row.account_type) else deposit_days
            due = today >= pending.authorized_on + timedelta(days=days)
        if due:
            gone.append(row)
    await repository.set_status(session, [r.pending.pk for r in gone], EXPIRED, now)
    subscribers = events.Subscribers()
    for r in gone:
        scope = events.Scope(
            r.tenant_id, r.environment, r.company_id, r.company_name, r.connection_id, r.account_id
        )
        await events.expired(session, scope, r.pending.pending_id, r.pending.amount, subscribers)
    return len(gone)


async def purge(session: AsyncSession, retention_days: int) -> int:
    return await repository.purge_ended(session, clock.now() - timedelta(days=retention_days))
