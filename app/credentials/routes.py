"""HTTP for one-time credentials."""

from __future__ import annotations

from starlette.responses import Response

from app.credentials import schemas, service
from app.kit.schemas import ConnectionPath
from app.tenants.auth import ClientCall, ClientOperations

TAG = "Source accounts"
OPERATIONS = ClientOperations()
PATH = (
    "/companies/{companyId}/connections/{connectionId}/connectionInfo/bankFeedAccounts/credentials"
)


@OPERATIONS.operation(
    "POST",
    PATH,
    params=ConnectionPath,
    operation_id="generate-credentials",
    summary="Generate source account credentials",
    tag=TAG,
    responses={200: schemas.BankAccountCredentials},
)
async def generate_credentials(
    call: ClientCall[ConnectionPath, None, None],
) -> schemas.BankAccountCredentials:
    """A new set of one-time credentials for QuickBooks, shown this once. Older sets stay valid
    until revoked; a set QuickBooks has not used within 24 hours expires."""
    username, password = await service.generate(
        call.session,
        call.services.settings,
        call.services.redis,
        call.principal,
        call.path.company_id,
        call.path.connection_id,
    )
    return schemas.BankAccountCredentials(username=username, password=password)


@OPERATIONS.operation(
    "DELETE",
    PATH,
    params=ConnectionPath,
    operation_id="delete-bank-feed-credentials",
    summary="Delete all source account credentials",
    tag=TAG,
    responses={204: None},
)
async def revoke_credentials(call: ClientCall[ConnectionPath, None, None]) -> Response:
    """Revokes every set of the connection; QuickBooks' next call with any of them gets 401."""
    await service.revoke(
        call.session, call.principal, call.path.company_id, call.path.connection_id
    )
    return Response(status_code=204)
