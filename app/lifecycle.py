"""Feed-status cascades across domains, in the caller's transaction: when an account or a
connection ends, its pending pushes fail and the change is announced.

Below the services (which call it) and above the events and repositories (which it calls), so
no domain's service reaches up into another's. The other way too: QuickBooks' queries bring an
account and its connection back (`idx_queried`, `connection_linked`).
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
CONNECTED = "bankFeeds.sourceAccount.connected"
FRESH = "bankFeeds.sourceAccount.fresh"


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
    unlinked = await accounts_repo.unlink_all_disconnected(session)
    await connection_events.connections_changed(
        session, settings, unlinked, "connection.disconnected"
    )
    return len(unlinked)


async def connection_linked(
    session: AsyncSession, settings: Settings, connection_id: uuid.UUID
) -> None:
    """QuickBooks signed in with the connection's credentials, or queried one of its accounts:
    a connection not yet Linked becomes Linked, and it is announced."""
    if await connections_repo.mark_linked(session, connection_id):
        await _announce_linked(session, settings, connection_id)


async def _announce_linked(
    session: AsyncSession, settings: Settings, connection_id: uuid.UUID
) -> None:
    connection = await connections_repo.by_id(session, connection_id)
    assert connection is not None
    await session.refresh(connection)
    await connection_events.connections_changed(
        session, settings, [connection], "connection.connected"
    )


async def idx_queried(
    session: AsyncSession, settings: Settings, account: SourceAccount, now: datetime
) -> None:
    """QuickBooks queried the account's transactions at `now` (the caller holds its lock): the
    account is connected and fresh again, its connection's and company's lastSync move, the
    connection is Linked; each change is announced."""
    newly_connected = account.status != "connected"
    was_stale = account.stale_since is not None
    account.status = "connected"
    account.last_queried_at = now
    account.stale_since = None
    await session.flush()
    linked = await connections_repo.queried(session, account.connection_id, now)
    if newly_connected:
        await account_events.accounts_changed(session, [account], CONNECTED)
    if was_stale:
        await account_events.accounts_changed(session, [account], FRESH)
    if linked:
        await _announce_linked(session, settings, account.connection_id)
