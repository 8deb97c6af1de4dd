"""Sync status for support teams: companies → connections → accounts → transactions.

Read-only and scoped to the signed-in staff member's tenant and environment; an id of another
tenant is simply not found (404), as on the client API.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, get_args

from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.accounts.schemas import AccountStatus
from app.accounts.tables import SourceAccount
from app.companies.tables import Company
from app.connections.schemas import ConnectionStatus
from app.connections.tables import Connection
from app.db import parse_uuid
from app.kit.errors import NotFound
from app.kit.principal import Principal
from app.portal import repository
from app.spreadsheet import to_csv
from app.transactions.schemas import PushOperation as PushOperationWire
from app.transactions.schemas import delivery_state
from app.transactions.tables import BankTransaction, PushOperation, PushRejection

CONNECTION_STATUSES: tuple[str, ...] = get_args(ConnectionStatus)
ACCOUNT_STATUSES: tuple[str, ...] = get_args(AccountStatus)
PUSH_STATUSES: tuple[str, ...] = get_args(PushOperationWire.model_fields["status"].annotation)
DELIVERY_STATES = ("pending", "sent", "delivered")
LIMIT = 200  # rows a page shows (and its CSV exports): support views, not a data dump
CHART_DAYS = 30


def choice(value: str | None, allowed: Sequence[str]) -> str | None:
    """A filter value from the query string, or None (all) when it is not one we know."""
    return value if value in allowed else None


@dataclass
class AccountRow:
    account: SourceAccount
    connection_id: uuid.UUID
    pending: int
    sent: int


@dataclass
class CompanyView:
    company: Company
    connections: list[Connection]
    accounts: list[AccountRow]
    operations: list[PushOperation]
    rejections: list[PushRejection]


async def companies(
    session: AsyncSession, principal: Principal, status: str | None
) -> list[tuple[Company, str | None, int, int]]:
    return await repository.companies(
        session, principal.tenant_id, principal.environment, status, LIMIT
    )


async def _company(session: AsyncSession, principal: Principal, company_id: str) -> Company:
    parsed = _uuid(company_id)
    found = (
        await repository.company(session, principal.tenant_id, principal.environment, parsed)
        if parsed
        else None
    )
    if found is None:
        raise NotFound(f"No company was found with ID {company_id}")
    return found


async def company(
    session: AsyncSession,
    principal: Principal,
    company_id: str,
    account_status: str | None,
    push_status: str | None,
) -> CompanyView:
    found = await _company(session, principal, company_id)
    connections = await repository.connections_of(session, found.id)
    rows = await repository.accounts_with_counts(
        session, [c.id for c in connections], account_status
    )
    operations = await repository.operations(session, found.id, push_status, LIMIT)
    rejections = await repository.rejections(session, found.id, LIMIT)
    return CompanyView(
        found,
        connections,
        [AccountRow(a, a.connection_id, pending, sent) for a, pending, sent in rows],
        operations,
        rejections,
    )


@dataclass
class AccountView:
    company: Company
    connection: Connection
    account: SourceAccount
    transactions: list[tuple[BankTransaction, datetime | None]]  # with deliveredOnUtc
    accepted_by_day: dict[date, int]
    sent_by_day: dict[date, int]
    last_day: date

    @property
    def days(self) -> list[tuple[date, int, int]]:
        """The chart's numbers, day by day (oldest first), for the table beside it."""
        first = self.last_day - timedelta(days=CHART_DAYS - 1)
        span = [first + timedelta(days=i) for i in range(CHART_DAYS)]
        return [(d, self.accepted_by_day.get(d, 0), self.sent_by_day.get(d, 0)) for d in span]


async def account(
    session: AsyncSession, principal: Principal, company_id: str, account_pk: str, state: str | None
) -> AccountView:
    found = await _company(session, principal, company_id)
    parsed = _uuid(account_pk)
    pair = await repository.account(session, found.id, parsed) if parsed else None
    if pair is None:
        raise NotFound(f"No source account was found with ID {account_pk}")
    source, connection = pair
    today = clock.now().date()
    since = datetime.combine(today - timedelta(days=CHART_DAYS - 1), datetime.min.time(), UTC)
    accepted, sent = await repository.daily_counts(session, source.pk, since)
    rows = await repository.transactions(session, source.pk, state, LIMIT)
    return AccountView(found, connection, source, rows, accepted, sent, today)


def _uuid(value: str) -> uuid.UUID | None:
    return parse_uuid(value)


def companies_csv(rows: list[tuple[Company, str | None, int, int]]) -> str:
    return to_csv(
        ("companyId", "name", "createdOnUtc", "connectionStatus", "accounts", "pending"),
        ((c.id, c.name, c.created_at, status, n, pending) for c, status, n, pending in rows),
    )


def accounts_csv(view: CompanyView) -> str:
    return to_csv(
        (
            "connectionId",
            "accountId",
            "accountName",
            "status",
            "feedStartDate",
            "lastQueriedOnUtc",
            "pending",
            "sent",
        ),
        (
            (
                r.connection_id,
                r.account.account_id,
                r.account.account_name,
                r.account.status,
                r.account.feed_start_date,
                r.account.last_queried_at,
                r.pending,
                r.sent,
            )
            for r in view.accounts
        ),
    )


def operations_csv(view: CompanyView) -> str:
    return to_csv(
        (
            "pushOperationKey",
            "accountId",
            "status",
            "transactions",
            "requestedOnUtc",
            "completedOnUtc",
            "errorMessage",
            "warnings",
        ),
        (
            (
                op.key,
                op.account_id,
                op.status,
                op.transaction_count,
                op.requested_at,
                op.completed_at,
                op.error_message,
                _problems(op.warnings),
            )
            for op in view.operations
        ),
    )


def _problems(items: list[dict[str, Any]] | None) -> str:
    return "; ".join(
        f"{i.get('itemId')}: {i.get('message')} ({i.get('validatorName')})" for i in items or []
    )


def rejections_csv(view: CompanyView) -> str:
    return to_csv(
        ("requestedOnUtc", "accountId", "transactions", "errors"),
        (
            (r.requested_at, r.account_id, r.transaction_count, _problems(r.errors))
            for r in view.rejections
        ),
    )


def transactions_csv(view: AccountView) -> str:
    return to_csv(
        (
            "transactionId",
            "date",
            "description",
            "payee",
            "reference",
            "amount",
            "balance",
            "status",
            "acceptedOnUtc",
            "sentOnUtc",
            "deliveredOnUtc",
            "pushOperationKey",
        ),
        (
            (
                t.transaction_id,
                t.cleared_on,
                t.description,
                t.payee_name,
                t.reference_number,
                t.amount,
                t.balance,
                delivery_state(t.sent_at, delivered),
                t.accepted_at,
                t.sent_at,
                delivered,
                t.push_operation_key,
            )
            for t, delivered in view.transactions
        ),
    )
