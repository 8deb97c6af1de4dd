"""Feed-status cascades across domains, in the caller's transaction: when an account or a
connection ends, its pending pushes fail and the change is announced.

Below the services (which call it) and above the events and repositories (which it calls), so
no domain's service reaches up into another's. The IDX first-query connect still lives in
app/idx/service.py's hot path; see docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.accounts import events as account_events
from app.accounts import repository as accounts_repo
from app.accounts.tables import SourceAccount
from app.config import Settings
from app.connections import events as connection_events
from app.connections import repository as connections_repo
from app.connections.tables import Connection
from app.credentials import repository as credentials_repo
from app.transactions import events as transaction_events
from app.transactions import repository as transactions_repo

DISCONNECTED = "bankFeeds.sourceAccount.disconnected"


async def fail_pending(
    session: AsyncSession, account_pks: Sequence[uuid.UUID] | None = None
) -> int:
    """The feed of these accounts (None: of every disconnected account) was disconnected before
    their pending pushes were sent."""
    if account_pks is None:
        pending = await transactions_repo.pending_operations_of_disconnected(session)
    else:
        pending = await transactions_repo.pending_operations(session, account_pks)
    if pending:
        await transaction_events.finish(
            session,
            pending,
            status="Failed",
            status_code=400,
            message="The feed was disconnected in QuickBooks before these transactions were "
            "sent; none of them was sent.",
        )
    return len(pending)


async def account_disconnected(session: AsyncSession, account: SourceAccount) -> None:
    """The client set one account's status to disconnected: its pending pushes fail now (their
    transactions will never be sent), and it is announced."""
    await fail_pending(session, [account.pk])
    await account_events.accounts_changed(session, [account], DISCONNECTED)


async def client_unlinked(
    session: AsyncSession, settings: Settings, connection: Connection
) -> None:
    """The client ends the feed (SPEC §4): every credential set is revoked (QuickBooks' next
    call gets 401), the accounts are disconnected and their pending pushes fail. New credentials
    link the connection again. The caller has set the connection Unlinked."""
    now = clock.now()
    await credentials_repo.revoke_all(session, connection.id, now)
    accounts = await accounts_repo.of_connection(session, connection.id)
    ended = [a for a in accounts if a.status != "disconnected"]
    for account in ended:
        account.status = "disconnected"
        account.modified_date = now
    await session.flush()
    await fail_pending(session, [a.pk for a in accounts])
    if ended:
        await account_events.accounts_changed(session, ended, DISCONNECTED)
    await connection_events.connections_changed(
        session, settings, [connection], "connection.disconnected"
    )


async def disconnect_stale(session: AsyncSession, cutoff: datetime) -> tuple[int, int]:
    """The detection's first step: connected accounts not queried since `cutoff` become
    disconnected, set-based; then every pending push of a disconnected account fails.
    Returns (accounts, failed operations)."""
    gone = await accounts_repo.disconnect_stale(session, cutoff)
    failed = await fail_pending(session)
    if gone:
        await account_events.stale_accounts_disconnected(session, gone)
    return len(gone), failed


async def unlink_disconnected(session: AsyncSession, settings: Settings) -> int:
    """The detection's second step: Linked connections whose accounts are all disconnected
    become Unlinked."""
    unlinked = await connections_repo.unlink_all_disconnected(session)
    await connection_events.connections_changed(
        session, settings, unlinked, "connection.disconnected"
    )
    return len(unlinked)
