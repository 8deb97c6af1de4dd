"""All SQL of pendings: the holds, their links and suggestions, the tenant's matching mode,
the reversal audit, expiry and purge. The caller holds the account's lock where it matters."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import (
    ARRAY,
    Select,
    String,
    and_,
    any_,
    bindparam,
    delete,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from app.accounts.tables import SourceAccount
from app.companies.tables import Company
from app.companies.zone import ZONE_OF
from app.connections.tables import Connection
from app.db import Direct, uuid_param
from app.kit import scope
from app.pendings.tables import (
    HELD,
    POSTED,
    PendingLink,
    PendingSettings,
    PendingSuggestion,
    PendingTransaction,
    TransactionReversal,
)
from app.tenants.tables import Tenant
from app.transactions.tables import BankTransaction


async def matching(session: AsyncSession, tenant_id: uuid.UUID) -> str | None:
    stmt = select(PendingSettings.matching).where(PendingSettings.tenant_id == tenant_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def set_matching(
    session: AsyncSession, tenant_id: uuid.UUID, mode: str, now: datetime
) -> None:
    found = await session.get(PendingSettings, tenant_id, with_for_update=True)
    if found is None:
        session.add(PendingSettings(tenant_id=tenant_id, matching=mode, updated_at=now))
    else:
        found.matching, found.updated_at = mode, now
    await session.flush()


def _may_link(ids: ColumnElement[bool]) -> Select[tuple[bool]]:
    """Whether a cleared push could link to any pending of its account: one of its ids (or the
    pendings it names) is a pending's, or the tenant matches automatically and the account
    holds one. Most pushes find nothing, and skip the matching mode and the locking read."""
    auto = exists().where(
        PendingSettings.tenant_id == uuid_param("tenant_id"), PendingSettings.matching == "auto"
    )
    return select(
        exists().where(
            PendingTransaction.account_pk == uuid_param("account_pk"),
            or_(ids, and_(PendingTransaction.status == HELD, auto)),
        )
    )


# PostgreSQL: one array parameter, straight on the driver (a 1000-id IN list costs SQLAlchemy
# milliseconds to render per call). Elsewhere an expanding IN, which only `session.execute`
# renders (Direct compiles a statement once, so its parameters cannot change its text).
_MAY_LINK_PG = Direct(
    _may_link(PendingTransaction.pending_id == any_(bindparam("ids", type_=ARRAY(String))))
)
_MAY_LINK = _may_link(PendingTransaction.pending_id.in_(bindparam("ids", expanding=True)))


async def may_link(
    session: AsyncSession, tenant_id: uuid.UUID, account_pk: uuid.UUID, ids: Collection[str]
) -> bool:
    params = {"tenant_id": tenant_id, "account_pk": account_pk, "ids": list(ids)}
    if session.get_bind().dialect.name == "postgresql":
        row = await _MAY_LINK_PG.first(session, params)
        return bool(row and row[0])
    return bool((await session.execute(_MAY_LINK, params)).scalar())


async def pendings(
    session: AsyncSession,
    account_pk: uuid.UUID,
    ids: Collection[str],
    *,
    with_held: bool = False,
    for_update: bool = False,
) -> list[PendingTransaction]:
    """The account's pendings with these ids (and every held one when `with_held`)."""
    wanted: ColumnElement[bool] | None = (
        PendingTransaction.pending_id.in_(list(ids)) if ids else None
    )
    if with_held:
        held = PendingTransaction.status == HELD
        wanted = held if wanted is None else or_(wanted, held)
    if wanted is None:
        return []
    stmt = select(PendingTransaction).where(PendingTransaction.account_pk == account_pk, wanted)
    if for_update:
        stmt = stmt.with_for_update()
    return list((await session.execute(stmt)).scalars())


async def page(
    session: AsyncSession, account_pk: uuid.UUID, status: str | None, offset: int, size: int
) -> tuple[list[PendingTransaction], int]:
    where = [PendingTransaction.account_pk == account_pk]
    if status:
        where.append(PendingTransaction.status == status)
    total = (
        await session.execute(select(func.count()).select_from(PendingTransaction).where(*where))
    ).scalar_one()
    stmt = (
        select(PendingTransaction)
        .where(*where)
        .order_by(PendingTransaction.authorized_on.desc(), PendingTransaction.pending_id)
        .offset(offset)
        .limit(size)
    )
    return list((await session.execute(stmt)).scalars()), int(total)


async def add(session: AsyncSession, *rows: object) -> None:
    session.add_all(rows)
    await session.flush()


async def links_of_pendings(
    session: AsyncSession, account_pk: uuid.UUID, pending_ids: Collection[str]
) -> list[PendingLink]:
    if not pending_ids:
        return []
    stmt = (
        select(PendingLink)
        .where(PendingLink.account_pk == account_pk, PendingLink.pending_id.in_(list(pending_ids)))
        .order_by(PendingLink.id)
    )
    return list((await session.execute(stmt)).scalars())


async def links_of_operation(
    session: AsyncSession, account_pk: uuid.UUID, key: uuid.UUID | None
) -> list[PendingLink]:
    """The links one push made, or the account's latest 100 (newest first) without a key."""
    stmt = select(PendingLink).where(PendingLink.account_pk == account_pk)
    if key is None:
        stmt = stmt.order_by(PendingLink.id.desc()).limit(100)
    else:
        stmt = stmt.where(PendingLink.push_operation_key == key).order_by(PendingLink.id)
    return list((await session.execute(stmt)).scalars())


async def suggestions_of(
    session: AsyncSession, account_pk: uuid.UUID, pending_ids: Collection[str]
) -> list[PendingSuggestion]:
    if not pending_ids:
        return []
    stmt = select(PendingSuggestion).where(
        PendingSuggestion.account_pk == account_pk,
        PendingSuggestion.pending_id.in_(list(pending_ids)),
    )
    return list((await session.execute(stmt)).scalars())


async def cleared_lines(
    session: AsyncSession, account_pk: uuid.UUID, ids: Collection[str]
) -> dict[str, BankTransaction]:
    """Accepted lines of the account with these ids (a pending arriving after its cleared line)."""
    if not ids:
        return {}
    stmt = select(BankTransaction).where(
        BankTransaction.account_pk == account_pk, BankTransaction.transaction_id.in_(list(ids))
    )
    return {r.transaction_id: r for r in (await session.execute(stmt)).scalars()}


async def linked_transaction_ids(
    session: AsyncSession, account_pk: uuid.UUID, ids: Collection[str]
) -> set[str]:
    if not ids:
        return set()
    stmt = select(PendingLink.transaction_id).where(
        PendingLink.account_pk == account_pk, PendingLink.transaction_id.in_(list(ids))
    )
    return set((await session.execute(stmt)).scalars())


async def served_dates(
    session: AsyncSession, account_pk: uuid.UUID, ids: Sequence[str]
) -> dict[str, date]:
    """The authorizedDate QuickBooks is served as transactionDate, for the lines that have one."""
    if not ids:
        return {}
    stmt = select(PendingLink.transaction_id, PendingLink.serve_authorized_on).where(
        PendingLink.account_pk == account_pk,
        PendingLink.transaction_id.in_(list(ids)),
        PendingLink.serve_authorized_on.is_not(None),
    )
    return {tid: on for tid, on in (await session.execute(stmt)).all() if on is not None}


async def has_served_dates(session: AsyncSession, account_pk: uuid.UUID) -> bool:
    stmt = select(PendingLink.id).where(
        PendingLink.account_pk == account_pk, PendingLink.serve_authorized_on.is_not(None)
    )
    return (await session.execute(stmt.limit(1))).first() is not None


async def transaction_for_update(
    session: AsyncSession, account_pk: uuid.UUID, transaction_id: str
) -> BankTransaction | None:
    stmt = (
        select(BankTransaction)
        .where(
            BankTransaction.account_pk == account_pk,
            BankTransaction.transaction_id == transaction_id,
        )
        .with_for_update()
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def reversal_of(
    session: AsyncSession, account_pk: uuid.UUID, original_id: str
) -> TransactionReversal | None:
    stmt = select(TransactionReversal).where(
        TransactionReversal.account_pk == account_pk,
        TransactionReversal.original_id == original_id,
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def is_reversal_line(session: AsyncSession, account_pk: uuid.UUID, tid: str) -> bool:
    stmt = select(TransactionReversal.id).where(
        TransactionReversal.account_pk == account_pk, TransactionReversal.reversal_id == tid
    )
    return (await session.execute(stmt)).first() is not None


@dataclass(frozen=True)
class HeldRow:
    pending: PendingTransaction
    account_id: str
    account_type: str | None
    zone: str
    tenant_id: uuid.UUID
    company_id: uuid.UUID
    company_name: str
    environment: str
    connection_id: uuid.UUID


async def held_everywhere(session: AsyncSession) -> list[HeldRow]:
    """Every held pending with what the expiry job needs of its account and company, locked
    (rows another run holds are skipped: that run expires them)."""
    stmt = (
        select(
            PendingTransaction,
            SourceAccount.account_id,
            SourceAccount.account_type,
            ZONE_OF,
            Company.tenant_id,
            Company.id,
            Company.name,
            Company.environment,
            Connection.id,
        )
        .join(SourceAccount, SourceAccount.pk == PendingTransaction.account_pk)
        .join(Connection, Connection.id == SourceAccount.connection_id)
        .join(Company, Company.id == Connection.company_id)
        .join(Tenant, Tenant.id == Company.tenant_id)
        .where(PendingTransaction.status == HELD)
        .with_for_update(of=PendingTransaction, skip_locked=True)
    )
    return [HeldRow(*r) for r in (await session.execute(stmt)).all()]


async def purge_ended(session: AsyncSession, before: datetime) -> int:
    """Terminal pendings that ended before `before`, with their links and suggestions."""
    for table in (PendingLink, PendingSuggestion):
        ended = select(PendingTransaction.pk).where(
            PendingTransaction.account_pk == table.account_pk,
            PendingTransaction.pending_id == table.pending_id,
            PendingTransaction.status != HELD,
            PendingTransaction.ended_at < before,
        )
        await session.execute(delete(table).where(ended.exists()))
    result = await session.execute(
        delete(PendingTransaction).where(
            PendingTransaction.status != HELD, PendingTransaction.ended_at < before
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def set_status(
    session: AsyncSession, pks: Sequence[uuid.UUID], status: str, now: datetime
) -> None:
    for start in range(0, len(pks), 500):  # bounded statements on every database
        await session.execute(
            update(PendingTransaction)
            .where(PendingTransaction.pk.in_(list(pks[start : start + 500])))
            .values(status=status, ended_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )


async def holds_summary(
    session: AsyncSession, account_pks: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, object, date | None]]:
    """Per account: held count, held total, oldest authorizedDate."""
    if not account_pks:
        return {}
    stmt = (
        select(
            PendingTransaction.account_pk,
            func.count(),
            func.sum(PendingTransaction.amount),
            func.min(PendingTransaction.authorized_on),
        )
        .where(
            PendingTransaction.account_pk.in_(list(account_pks)), PendingTransaction.status == HELD
        )
        .group_by(PendingTransaction.account_pk)
    )
    return {
        a: (int(n), total, oldest) for a, n, total, oldest in (await session.execute(stmt)).all()
    }


async def company_name(session: AsyncSession, company_id: uuid.UUID) -> str:
    stmt = select(Company.name).where(Company.id == company_id)
    return str((await session.execute(stmt)).scalar_one())


async def unlink_operations(session: AsyncSession, keys: Sequence[uuid.UUID], now: datetime) -> int:
    """Lines of these operations were withdrawn unsent (timed out, failed): their links and
    suggestions go, and a pending left with no linked line is held again. Returns links gone."""
    if not keys:
        return 0
    stmt = select(PendingLink).where(PendingLink.push_operation_key.in_(list(keys)))
    links = list((await session.execute(stmt)).scalars())
    if not links:
        return 0
    await session.execute(delete(PendingLink).where(PendingLink.id.in_([k.id for k in links])))
    by_account: dict[uuid.UUID, tuple[set[str], set[str]]] = {}
    for link in links:
        pendings, lines = by_account.setdefault(link.account_pk, (set(), set()))
        pendings.add(link.pending_id)
        lines.add(link.transaction_id)
    still = select(PendingLink.id).where(
        PendingLink.account_pk == PendingTransaction.account_pk,
        PendingLink.pending_id == PendingTransaction.pending_id,
        PendingLink.state == "linked",
    )
    for account_pk, (pending_ids, line_ids) in by_account.items():
        await session.execute(
            delete(PendingSuggestion).where(
                PendingSuggestion.account_pk == account_pk,
                PendingSuggestion.transaction_id.in_(sorted(line_ids)),
            )
        )
        await session.execute(
            update(PendingTransaction)
            .where(
                PendingTransaction.account_pk == account_pk,
                PendingTransaction.pending_id.in_(sorted(pending_ids)),
                PendingTransaction.status == POSTED,
                ~still.exists(),
            )
            .values(status=HELD, ended_at=None, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    return len(links)


@dataclass(frozen=True)
class OldHolds:
    company_id: uuid.UUID
    company_name: str
    account_pk: uuid.UUID
    account_name: str
    count: int
    oldest: date


async def old_holds(
    session: AsyncSession, tenant_id: uuid.UUID, environment: str, before: date, limit: int
) -> list[OldHolds]:
    stmt = (
        select(
            Company.id,
            Company.name,
            SourceAccount.pk,
            func.coalesce(SourceAccount.account_name, SourceAccount.account_id),
            func.count(),
            func.min(PendingTransaction.authorized_on),
        )
        .join(SourceAccount, SourceAccount.pk == PendingTransaction.account_pk)
        .join(Connection, Connection.id == SourceAccount.connection_id)
        .join(Company, Company.id == Connection.company_id)
        .where(
            *scope.of(Company, tenant_id, environment),
            PendingTransaction.status == HELD,
            PendingTransaction.authorized_on < before,
        )
        .group_by(
            Company.id,
            Company.name,
            SourceAccount.pk,
            SourceAccount.account_name,
            SourceAccount.account_id,
        )
        .order_by(func.min(PendingTransaction.authorized_on))
        .limit(limit)
    )
    return [OldHolds(*row) for row in (await session.execute(stmt)).all()]
