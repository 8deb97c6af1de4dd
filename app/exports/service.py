"""A company's export, for portability (Law 25 s. 27): one versioned JSON document, or one CSV
per table, written as it is read so a million lines never sit in memory. The document's shape is
in docs/COMPLIANCE.md ("The export")."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app import clock, spreadsheet, vault
from app.companies.tables import Company
from app.exports import repository

SCHEMA = "bankfeeds.company-export"
VERSION = 1  # additions (pendings, balanceCertificates, counterparty) stay in version 1
TABLES = (
    "company",
    "connections",
    "accounts",
    "lines",
    "pendings",
    "balanceCertificates",
    "pushOperations",
    "reserves",
    "accessLog",
)
# The document's arrays after the company, in order; the audit tables go under "audit".
_ARRAYS = TABLES[1:7]


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    return value


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _value(v) for k, v in row.items()}


def _company(c: Any) -> dict[str, Any]:
    return _clean(
        {
            "id": c.id,
            "name": c.name,
            "description": c.description,
            "tags": c.tags,
            "timeZone": c.time_zone,
            "environment": c.environment,
            "created": c.created_at,
            "lastSync": c.last_sync,
        }
    )


def _connection(c: Any) -> dict[str, Any]:
    return _clean(
        {
            "id": c.id,
            "platformKey": c.platform_key,
            "status": c.status,
            "created": c.created_at,
            "lastSync": c.last_sync,
        }
    )


def _account(a: Any) -> dict[str, Any]:
    return _clean(
        {
            "connectionId": a.connection_id,
            "id": a.account_id,
            "accountName": a.account_name,
            "accountType": a.account_type,
            "accountNumber": vault.reveal(a.account_number),
            "sortCode": a.sort_code,
            "routingInfo": a.routing_info,
            "accountInfo": a.account_info,
            "currency": a.currency,
            "balance": a.balance,
            "status": a.status,
            "feedStartDate": a.feed_start_date,
            "modifiedDate": a.modified_date,
            "lastPulledOnUtc": a.last_queried_at,
            "created": a.created_at,
        }
    )


def _line(account: Any, row: Any) -> dict[str, Any]:
    status = "pending" if row.sent_at is None else "delivered" if row.delivered_at else "sent"
    return _clean(
        {
            "connectionId": account.connection_id,
            "accountId": account.account_id,
            "id": row.transaction_id,
            "date": row.cleared_on,
            "description": row.description,
            "counterparty": row.payee_name,
            "reference": row.reference_number,
            "amount": row.amount,
            "balance": row.balance,
            "transactionType": row.transaction_type,
            "status": status,
            "acceptedOnUtc": row.accepted_at,
            "sentOnUtc": row.sent_at,
            "deliveredOnUtc": row.delivered_at,
            "pushOperationKey": row.push_operation_key,
        }
    )


def _pending(account: Any, p: Any) -> dict[str, Any]:
    return _clean(
        {
            "connectionId": account.connection_id,
            "accountId": account.account_id,
            "id": p.pending_id,
            "authorizedDate": p.authorized_on,
            "amount": p.amount,
            "description": p.description,
            "counterparty": p.counterparty,
            "reference": p.reference,
            "expiresOn": p.expires_on,
            "status": p.status,
            "releaseReason": p.release_reason,
            "createdOnUtc": p.created_at,
            "endedOnUtc": p.ended_at,
            "history": p.history,
        }
    )


def _certificate(account: Any, c: Any) -> dict[str, Any]:
    return _clean(
        {
            "connectionId": account.connection_id,
            "accountId": account.account_id,
            "date": c.day,
            "revision": c.revision,
            "current": c.is_current,
            "status": c.status,
            "opening": c.opening,
            "credits": c.credits,
            "debits": c.debits,
            "count": c.count,
            "closing": c.closing,
            "expectedClosing": c.expected_closing,
            "linesDigest": c.lines_digest,
            "chainDigest": c.chain_digest,
            "firstBreak": c.first_break,
            "difference": c.difference,
            "deliveredThroughUtc": c.delivered_through,
        }
    )


def _operation(op: Any) -> dict[str, Any]:
    return _clean(
        {
            "pushOperationKey": op.key,
            "connectionId": op.connection_id,
            "accountId": op.account_id,
            "status": op.status,
            "statusCode": op.status_code,
            "transactionCount": op.transaction_count,
            "requestedOnUtc": op.requested_at,
            "completedOnUtc": op.completed_at,
            "deliveredOnUtc": op.delivered_at,
            "errorMessage": op.error_message,
        }
    )


def _reserve(r: Any) -> dict[str, Any]:
    return _clean(
        {
            "id": r.id,
            "actor": r.actor,
            "requestedOnUtc": r.requested_at,
            "fromDate": r.from_date,
            "toDate": r.to_date,
            "rows": r.rows,
        }
    )


def _access(a: Any) -> dict[str, Any]:
    return _clean(
        {
            "at": a.at,
            "actorKind": a.actor_kind,
            "actor": a.actor,
            "action": a.action,
            "route": a.route,
        }
    )


async def company(session: AsyncSession, company_id: uuid.UUID) -> Company | None:
    """The company whose export is asked for, any tenant's (the operator's command)."""
    return await repository.company(session, company_id)


async def rows_of(
    session: AsyncSession, company_id: uuid.UUID, table: str
) -> AsyncIterator[dict[str, Any]]:
    """The export's rows of one table, as the JSON document and the CSV both write them."""
    if table == "company":
        found = await repository.company(session, company_id)
        if found is not None:
            yield _company(found)
    elif table == "connections":
        for c in await repository.connections(session, company_id):
            yield _connection(c)
    elif table in ("accounts", "lines", "pendings", "balanceCertificates"):
        for a in await repository.accounts(session, company_id):
            if table == "accounts":
                yield _account(a)
            elif table == "lines":
                async for row in repository.lines(session, a.pk):
                    yield _line(a, row)
            elif table == "pendings":
                for p in await repository.pendings(session, a.pk):
                    yield _pending(a, p)
            else:
                for cert in await repository.certificates(session, a.pk):
                    yield _certificate(a, cert)
    elif table == "pushOperations":
        for op in await repository.operations(session, company_id):
            yield _operation(op)
    elif table == "reserves":
        for r in await repository.reserves(session, company_id):
            yield _reserve(r)
    elif table == "accessLog":
        for e in await repository.accesses(session, company_id):
            yield _access(e)


async def _array(rows: AsyncIterator[dict[str, Any]], per_chunk: int = 500) -> AsyncIterator[str]:
    parts: list[str] = []
    first = True
    async for row in rows:
        parts.append(("" if first else ",") + json.dumps(row, ensure_ascii=False))
        first = False
        if len(parts) >= per_chunk:
            yield "".join(parts)
            parts = []
    if parts:
        yield "".join(parts)


async def json_chunks(session: AsyncSession, company_id: uuid.UUID) -> AsyncIterator[bytes]:
    """The whole document, in chunks of a few hundred rows."""
    head = {"schema": SCHEMA, "version": VERSION, "exportedAt": _value(clock.now())}
    found = await repository.company(session, company_id)
    company = _company(found) if found is not None else None
    yield (json.dumps(head, ensure_ascii=False)[:-1] + ',"company":').encode()
    yield json.dumps(company, ensure_ascii=False).encode()
    for table in _ARRAYS:
        yield f',"{table}":['.encode()
        async for chunk in _array(rows_of(session, company_id, table)):
            yield chunk.encode()
        yield b"]"
    yield b',"audit":{"reserves":['
    async for chunk in _array(rows_of(session, company_id, "reserves")):
        yield chunk.encode()
    yield b'],"accessLog":['
    async for chunk in _array(rows_of(session, company_id, "accessLog")):
        yield chunk.encode()
    yield b"]}}"


# Numbers written as text (a negative amount starts with "-"): not defused as formulas.
NUMERIC = {
    "amount",
    "balance",
    "rows",
    "statusCode",
    "transactionCount",
    "opening",
    "credits",
    "debits",
    "count",
    "closing",
    "expectedClosing",
    "difference",
    "revision",
}


def _csv_line(columns: list[str], values: Iterable[Any]) -> str:
    cells = [json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v for v in values]
    return spreadsheet.row_line(cells, [c in NUMERIC for c in columns])


async def csv_chunks(
    session: AsyncSession, company_id: uuid.UUID, table: str, per_chunk: int = 500
) -> AsyncIterator[bytes]:
    """One table as CSV: a header of its fields, then one row per record."""
    columns: list[str] | None = None
    parts: list[str] = []
    async for row in rows_of(session, company_id, table):
        if columns is None:
            columns = list(row)
            parts.append(_csv_line([], columns))
        parts.append(_csv_line(columns, (row.get(c) for c in columns)))
        if len(parts) >= per_chunk:
            yield "".join(parts).encode()
            parts = []
    if parts:
        yield "".join(parts).encode()
