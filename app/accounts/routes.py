"""HTTP for source accounts (connectionInfo/bankFeedAccounts)."""

from __future__ import annotations

from starlette.responses import Response

from app.accounts import schemas, service
from app.kit.api import Result
from app.kit.schemas import AccountPath, ConnectionPath
from app.tenants.auth import ClientCall, ClientOperations

TAG = "Source accounts"
BASE = "/companies/{companyId}/connections/{connectionId}/connectionInfo/bankFeedAccounts"
OPERATIONS = ClientOperations()


@OPERATIONS.operation(
    "POST",
    BASE,
    params=ConnectionPath,
    operation_id="create-source-account",
    summary="Create single source account",
    tag=TAG,
    body=schemas.AnyPrototype,
    responses={200: schemas.AnySourceAccount},
    errors=(400, 401, 404, 409),
)
async def create_source_account(
    call: ClientCall[ConnectionPath, None, service.Prototype],
) -> schemas.AnySourceAccount:
    """Creates a source account (v1 or v2 shape; currency USD or CAD). A duplicate id in the
    connection answers 409."""
    account = await service.create(
        call.session, call.principal, call.path.company_id, call.path.connection_id, call.body
    )
    return schemas.to_wire(account)


@OPERATIONS.operation(
    "POST",
    f"{BASE}/batch",
    params=ConnectionPath,
    operation_id="create-batch-source-account",
    summary="Create source accounts",
    tag=TAG,
    body=schemas.BatchBody,
    responses={
        201: list[schemas.BatchItem],
        207: list[schemas.BatchItem],
        409: list[schemas.BatchItem],
    },
)
async def create_batch(call: ClientCall[ConnectionPath, None, list[service.Prototype]]) -> Result:
    """Creates up to 500 accounts. Every item is checked first (any invalid item: 400, nothing
    stored); then 201 if all were created, 207 if some ids already existed, 409 if all did."""
    status, items = await service.create_batch(
        call.session, call.principal, call.path.company_id, call.path.connection_id, call.body
    )
    return Result(items, status)


@OPERATIONS.operation(
    "GET",
    BASE,
    params=ConnectionPath,
    operation_id="list-source-accounts",
    summary="List source accounts",
    tag=TAG,
    responses={200: list[schemas.AnySourceAccount]},
)
async def list_source_accounts(
    call: ClientCall[ConnectionPath, None, None],
) -> list[schemas.AnySourceAccount]:
    accounts = await service.list_accounts(
        call.session, call.principal, call.path.company_id, call.path.connection_id
    )
    return service.list_wire(accounts)


@OPERATIONS.operation(
    "PATCH",
    f"{BASE}/{{accountId}}",
    params=AccountPath,
    operation_id="update-source-account",
    summary="Update source account",
    tag=TAG,
    body=schemas.SourceAccountUpdate,
    responses={200: schemas.AnySourceAccount},
)
async def update_source_account(
    call: ClientCall[AccountPath, None, schemas.SourceAccountUpdate],
) -> schemas.AnySourceAccount:
    """Updates accountName; status only to disconnected; balance only while not connected."""
    account = await service.update(
        call.session,
        call.principal,
        call.path.company_id,
        call.path.connection_id,
        call.path.account_id,
        call.body,
    )
    return schemas.to_wire(account)


@OPERATIONS.operation(
    "DELETE",
    f"{BASE}/{{accountId}}",
    params=AccountPath,
    operation_id="delete-source-account",
    summary="Delete source account",
    tag=TAG,
    responses={204: None},
)
async def delete_source_account(call: ClientCall[AccountPath, None, None]) -> Response:
    await service.delete(
        call.session,
        call.principal,
        call.path.company_id,
        call.path.connection_id,
        call.path.account_id,
    )
    return Response(status_code=204)
