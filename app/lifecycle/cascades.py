"""Feed-status cascades across domains, in the caller's transaction: when an account or a
connection ends, its pending pushes fail and the change is announced; when QuickBooks queries an
account, the account and its connection come back.

Above the domains they cascade through, reaching them through their services only. A domain
never calls up here: it sends a signal (`app/kit/signals.py`) that `app.lifecycle.install()`
connects to the functions below.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.accounts import service as accounts
from app.accounts.tables import SourceAccount
from app.config import Settings
from app.connections import service as connections
from app.connections.tables import Connection
from app.credentials import service as credentials
from app.transactions import service as transactions


async def account_disconnected(session: AsyncSession, account: SourceAccount) -> None:
    """The client set one account's status to disconnected: its pending pushes fail now (their
    transactions will never be sent), and it is announced."""
    await transactions.fail_pending(session, [account.pk])
    await accounts.announce(session, [account], accounts.DISCONNECTED_EVENT)


async def client_unlinked(
    session: AsyncSession, settings: Settings, connection: Connection
) -> None:
    """The client ends the feed (SPEC §4): every credential set is revoked (QuickBooks' next
    call gets 401), the accounts are disconnected and their pending pushes fail. New credentials
    link the connection again. The caller has set the connection Unlinked."""
    now = clock.now()
    await credentials.revoke_all(session, connection.id, now)
    of_connection = await accounts.of_connection(session, connection.id)
    ended = await accounts.disconnect(session, of_connection, now)
    await transactions.fail_pending(session, [a.pk for a in of_connection])
    if ended:
        await accounts.announce(session, ended, accounts.DISCONNECTED_EVENT)
    await connections.announce(session, settings, [connection], "connection.disconnected")


async def disconnect_stale(session: AsyncSession, cutoff: datetime) -> tuple[int, int]:
    """The detection's first step: connected accounts not queried since `cutoff` become
    disconnected, set-based; then every pending push of a disconnected account fails.
    Returns (accounts, failed operations)."""
    gone = await accounts.disconnect_stale(session, cutoff)
    failed = await transactions.fail_pending(session)
    if gone:
        await accounts.announce_stale_disconnected(session, gone)
    return len(gone), failed


async def unlink_disconnected(session: AsyncSession, settings: Settings) -> int:
    """The detection's second step: Linked connections whose accounts are all disconnected
    become Unlinked."""
    unlinked = await accounts.unlink_all_disconnected(session)
    await connections.announce(session, settings, unlinked, "connection.disconnected")
    return len(unlinked)


async def idx_queried(
    session: AsyncSession, settings: Settings, account: SourceAccount, now: datetime
) -> None:
    """QuickBooks queried the account's transactions at `now` (the caller holds its lock): the
    account is connected and fresh again, its connection's and company's lastSync move, the
    connection is Linked; each change is announced."""
    due = await accounts.mark_queried(session, account, now)
    linked = await connections.queried(session, account.connection_id, now)
    for event_type in due:
        await accounts.announce(session, [account], event_type)
    if linked:
        await connections.announce_linked(session, settings, account.connection_id)
