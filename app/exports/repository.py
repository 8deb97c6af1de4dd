"""All SQL of a company's export: its rows read table by table, the lines streamed from a
server-side cursor in batches (never all in memory)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.tables import AccessEntry
from app.accounts.tables import SourceAccount
from app.certificates.tables import BalanceCertificate
from app.companies.tables import Company
from app.connections.tables import Connection
from app.idx.tables import Reserve
from app.pendings.tables import PendingTransaction
from app.transactions.delivery import delivered_at
from app.transactions.tables import BankTransaction, PushOperation

LINES_PER_FETCH = 2000


async def company(session: AsyncSession, company_id: uuid.UUID) -> Company | None:
    return await session.get(Company, company_id)


async def connections(session: AsyncSession, company_id: uuid.UUID) -> list[Connection]:
    stmt = (
        select(Connection)
        .where(Connection.company_id == company_id)
        .order_by(Connection.created_at, Connection.id)
    )
    return list((await session.execute(stmt)).scalars())


async def accounts(session: AsyncSession, company_id: uuid.UUID) -> list[SourceAccount]:
    stmt = (
        select(SourceAccount)
        .join(Connection, Connection.id == SourceAccount.connection_id)
        .where(Connection.company_id == company_id)
        .order_by(SourceAccount.created_at, SourceAccount.pk)
    )
    return list((await session.execute(stmt)).scalars())


async def lines(session: AsyncSession, account_pk: uuid.UUID) -> AsyncIterator[Any]:
    """The account's lines in id order, each with when it was delivered (null: not yet)."""
    stmt = (
        select(
            BankTransaction.transaction_id,
            BankTransaction.cleared_on,
            BankTransaction.description,
            BankTransaction.payee_name,
            BankTransaction.reference_number,
            BankTransaction.amount,
            BankTransaction.balance,
            BankTransaction.transaction_type,
            BankTransaction.accepted_at,
            BankTransaction.sent_at,
            BankTransaction.push_operation_key,
            delivered_at().label("delivered_at"),
        )
        .where(BankTransaction.account_pk == account_pk)
        .order_by(BankTransaction.id)
        .execution_options(yield_per=LINES_PER_FETCH)
    )
    result = await session.stream(stmt)
    async for partition in result.partitions(LINES_PER_FETCH):
        for row in partition:
            yield row


async def operations(session: AsyncSession, company_id: uuid.UUID) -> list[PushOperation]:
    stmt = (
        select(PushOperation)
        .where(PushOperation.company_id == company_id)
        .order_by(PushOperation.requested_at, PushOperation.key)
    )
    return list((await session.execute(stmt)).scalars())


async def reserves(session: AsyncSession, company_id: uuid.UUID) -> list[Reserve]:
    stmt = (
        select(Reserve)
        .join(SourceAccount, SourceAccount.pk == Reserve.account_pk)
        .join(Connection, Connection.id == SourceAccount.connection_id)
        .where(Connection.company_id == company_id)
        .order_by(Reserve.requested_at, Reserve.id)
    )
    return list((await session.execute(stmt)).scalars())


async def accesses(session: AsyncSession, company_id: uuid.UUID) -> list[AccessEntry]:
    stmt = (
        select(AccessEntry)
        .where(AccessEntry.company_id == company_id)
        .order_by(AccessEntry.at, AccessEntry.id)
    )
    return list((await session.execute(stmt)).scalars())


async def pendings(session: AsyncSession, account_pk: uuid.UUID) -> list[PendingTransaction]:
    """The account's holds (held, posted, released, expired), oldest first."""
    stmt = (
        select(PendingTransaction)
        .where(PendingTransaction.account_pk == account_pk)
        .order_by(PendingTransaction.created_at, PendingTransaction.pending_id)
    )
    return list((await session.execute(stmt)).scalars())


async def certificates(session: AsyncSession, account_pk: uuid.UUID) -> list[BalanceCertificate]:
    """Every revision of the account's balance certificates, in chain order."""
    stmt = (
        select(BalanceCertificate)
        .where(BalanceCertificate.account_pk == account_pk)
        .order_by(BalanceCertificate.seq)
    )
    return list((await session.execute(stmt)).scalars())
