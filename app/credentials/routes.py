"""HTTP for one-time credentials."""

from __future__ import annotations

from starlette.responses import Response

from app.api import Call, client_api
from app.credentials import schemas, service

TAG = "Source accounts"
PATH = (
    "/companies/{companyId}/connections/{connectionId}/connectionInfo/bankFeedAccounts/credentials"
)


@client_api.operation(
    "POST",
    PATH,
    operation_id="generate-credentials",
    summary="Generate source account credentials",
    tag=TAG,
    responses={200: schemas.BankAccountCredentials},
)
async def generate_credentials(call: Call[None]) -> schemas.BankAccountCredentials:
    """A new set of one-time credentials for QuickBooks, shown this once. Older sets stay valid
    until revoked; a set QuickBooks has not used within 24 hours expires."""
    username, password = await service.generate(
        call.session,
        call.services.settings,
        call.principal,
        call.path("companyId"),
        call.path("connectionId"),
    )
    return schemas.BankAccountCredentials(username=username, password=password)


@client_api.operation(
    "DELETE",
    PATH,
    operation_id="delete-bank-feed-credentials",
    summary="Delete all source account credentials",
    tag=TAG,
    responses={204: None},
)
async def revoke_credentials(call: Call[None]) -> Response:
    """Revokes every set of the connection; QuickBooks' next call with any of them gets 401."""
    await service.revoke(
        call.session, call.principal, call.path("companyId"), call.path("connectionId")
    )
    return Response(status_code=204)
