"""Source-account rules: unique id per connection, USD/CAD, and the spec's PATCH field rules."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app import clock, destruction, lifecycle, vault
from app.accounts import repository, schemas
from app.accounts.tables import SourceAccount
from app.connections import service as connections
from app.connections.tables import Connection
from app.kit.errors import BadRequest, Conflict, NotFound
from app.kit.principal import Principal
from app.kit.schemas import ErrorValidationItem

DUPLICATE = "A bank account already exists with the same Id"

Prototype = schemas.SourceAccountPrototype | schemas.SourceAccountV2Prototype


def _row(body: Prototype) -> dict[str, Any]:
    now = clock.now()
    row: dict[str, Any] = {
        "account_id": body.id,
        "version": 2 if isinstance(body, schemas.SourceAccountV2Prototype) else 1,
        "account_name": body.accountName,
        "account_type": body.accountType,
        "account_number": body.accountNumber,
        "sort_code": body.sortCode,
        "routing_info": None,
        "account_info": None,
        "currency": body.currency,
        "balance": body.balance,
        "modified_date": body.modifiedDate or now,
        "own_balance": body.balance,
        "own_balance_at": body.modifiedDate or now,
        "status": "pending",
        "created_at": now,
    }
    if isinstance(body, schemas.SourceAccountV2Prototype):
        if body.routingInfo is not None:
            row["routing_info"] = body.routingInfo.model_dump(mode="json")
        if body.accountInfo is not None:
            row["account_info"] = body.accountInfo.model_dump(mode="json")
    return row


async def create(
    session: AsyncSession,
    principal: Principal,
    company_id: str,
    connection_id: str,
    body: Prototype,
) -> SourceAccount:
    connection = await connections.get(session, principal, company_id, connection_id)
    inserted = await repository.insert_new(session, connection.id, [_row(body)])
    if body.id not in inserted:
        raise Conflict(DUPLICATE)
    account = await repository.get(session, connection.id, body.id)
    assert account is not None
    return account


async def create_batch(
    session: AsyncSession,
    principal: Principal,
    company_id: str,
    connection_id: str,
    bodies: Sequence[Prototype],
) -> tuple[int, list[schemas.BatchItem]]:
    """201 when all were created, 207 when some were, 409 when none were (all duplicates)."""
    connection = await connections.get(session, principal, company_id, connection_id)
    first: dict[str, Prototype] = {}
    for body in bodies:
        first.setdefault(body.id, body)
    inserted = await repository.insert_new(
        session, connection.id, [_row(b) for b in first.values()]
    )
    created = {
        a.account_id: a
        for a in await repository.of_connection(session, connection.id, list(inserted))
    }
    results: list[schemas.BatchItem] = []
    seen: set[str] = set()
    for body in bodies:
        if body.id in inserted and body.id not in seen:
            seen.add(body.id)
            results.append(
                schemas.BatchCreated(
                    sourceAccountId=body.id,
                    result=schemas.BatchCreatedResult(
                        statusCode=200, account=schemas.to_wire(created[body.id])
                    ),
                )
            )
        else:
            results.append(
                schemas.BatchError(
                    sourceAccountId=body.id,
                    result=schemas.BatchErrorResult(statusCode="409", error=DUPLICATE),
                )
            )
    if len(seen) == len(bodies):
        status = 201
    elif seen:
        status = 207
    else:
        status = 409
    return status, results


def list_wire(accounts: list[SourceAccount]) -> list[schemas.AnySourceAccount]:
    as_v2 = any(a.version == 2 for a in accounts)
    return [schemas.to_wire(a, as_v2=as_v2) for a in accounts]


async def list_accounts(
    session: AsyncSession, principal: Principal, company_id: str, connection_id: str
) -> list[SourceAccount]:
    connection = await connections.get(session, principal, company_id, connection_id)
    return await repository.of_connection(session, connection.id)


async def get(
    session: AsyncSession,
    principal: Principal,
    company_id: str,
    connection_id: str,
    account_id: str,
    *,
    for_update: bool = False,
) -> tuple[Connection, SourceAccount]:
    connection = await connections.get(session, principal, company_id, connection_id)
    account = await repository.get(session, connection.id, account_id, for_update=for_update)
    if account is None:
        raise NotFound(f"No source account was found with ID {account_id}")
    return connection, account


_IMMUTABLE = {
    "accountType": "account_type",
    "accountNumber": "account_number",
    "sortCode": "sort_code",
    "currency": "currency",
}


def _stored_json(value: Any) -> Any:
    return {k: v for k, v in (value or {}).items() if v is not None} or None


def _differs_json(given: Any, stored: Any) -> bool:
    if given is None:
        return False
    return bool(_stored_json(given.model_dump(mode="json")) != _stored_json(stored))


async def update(
    session: AsyncSession,
    principal: Principal,
    company_id: str,
    connection_id: str,
    account_id: str,
    body: schemas.SourceAccountUpdate,
) -> SourceAccount:
    _, account = await get(
        session, principal, company_id, connection_id, account_id, for_update=True
    )
    errors: list[ErrorValidationItem] = []

    def reject(field: str, message: str, validator: str = "SourceAccountUpdate") -> None:
        errors.append(ErrorValidationItem(itemId=field, message=message, validatorName=validator))

    given = body.model_fields_set
    if "id" in given and body.id != account.account_id:
        reject("id", f"id {body.id!r} does not match the account in the path ({account_id!r})")
    for field, column in _IMMUTABLE.items():
        stored = getattr(account, column)
        if column == "account_number":
            stored = vault.reveal(stored)
        if field in given and getattr(body, field) != stored:
            reject(field, f"{field} cannot be changed; only accountName, status and balance can")
    if _differs_json(body.routingInfo, account.routing_info):
        reject(
            "routingInfo", "routingInfo cannot be changed; only accountName, status and balance can"
        )
    if _differs_json(body.accountInfo, account.account_info):
        reject(
            "accountInfo", "accountInfo cannot be changed; only accountName, status and balance can"
        )
    if "feedStartDate" in given and body.feedStartDate is not None:
        start = body.feedStartDate
        start_date = start.date() if isinstance(start, datetime) else start
        if start_date != account.feed_start_date:
            reject(
                "feedStartDate",
                "feedStartDate is set by QuickBooks' first pull and cannot be changed",
            )
    if "accountName" in given and body.accountName is None and account.version == 2:
        reject("accountName", "accountName is required for a v2 account")
    new_status = body.status if "status" in given and body.status is not None else account.status
    if new_status != account.status and new_status != "disconnected":
        reject("status", f"status can only be set to disconnected, not {new_status}")
    balance_changes = "balance" in given and body.balance != account.balance
    if balance_changes and account.status == "connected":
        reject(
            "balance",
            "balance can only be updated while the account is not connected; "
            "a connected account's balance follows its pushed transactions",
        )
    if balance_changes and body.balance is None and account.version == 2:
        reject("balance", "balance is required for a v2 account")
    if errors:
        raise BadRequest("The source account cannot be updated as asked.", errors=errors)

    if "accountName" in given:
        account.account_name = body.accountName
    if balance_changes:
        account.balance = account.own_balance = body.balance
    disconnecting = new_status == "disconnected" and account.status != "disconnected"
    account.status = new_status
    account.modified_date = clock.now()
    if balance_changes:
        account.own_balance_at = account.modified_date
    await session.flush()
    if disconnecting:
        await lifecycle.account_disconnected(session, account)
    return account


async def delete(
    session: AsyncSession,
    principal: Principal,
    company_id: str,
    connection_id: str,
    account_id: str,
) -> None:
    _, account = await get(session, principal, company_id, connection_id, account_id)
    await destruction.account_deleted(session, principal, account)
    await repository.remove(session, account)
