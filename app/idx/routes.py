"""HTTP for the IDX API, mounted at /partners/intuit/idx: what QuickBooks Online calls."""

from __future__ import annotations

from dataclasses import dataclass

from app.idx import schemas, service
from app.idx.auth import IdxCall, IdxOperations

TAG = "Idx"
# Mounted at PREFIX by main.py, authenticated by idx/auth.py's idx_principal.
PREFIX = "/partners/intuit/idx"
OPERATIONS = IdxOperations()


@dataclass(frozen=True, slots=True)
class AccountPath:
    account_id: str


@OPERATIONS.operation(
    "GET",
    "/accounts",
    operation_id="list-accounts",
    summary="List accounts",
    tag=TAG,
    query=schemas.IdxPageQuery,
    responses={200: schemas.IntuitAccounts},
    errors=(400, 401, 429),
)
async def list_accounts(call: IdxCall[None, schemas.IdxPageQuery, None]) -> schemas.IntuitAccounts:
    """The connection's source accounts, as QuickBooks shows them for picking. Listing moves
    pending accounts to connecting."""
    return await service.list_accounts(call.session, call.principal, call.query)


@OPERATIONS.operation(
    "GET",
    "/accounts/{accountId}/transactions",
    params=AccountPath,
    operation_id="list-transactions",
    summary="List transactions",
    tag=TAG,
    query=schemas.TransactionsQuery,
    responses={200: schemas.IntuitTransactions},
    errors=(400, 401, 404, 429),
    after_error=service.remember_refused_pull,
)
async def list_transactions(
    call: IdxCall[AccountPath, schemas.TransactionsQuery, None],
) -> schemas.IntuitTransactions:
    """Sent transactions whose modifiedDate is in [startDate, endDate). The account's pending
    transactions are sent first (QuickBooks' Update). The first query fixes the account's
    feedStartDate (at most 7 days back) and connects it."""
    return await service.list_transactions(
        call.session, call.services.settings, call.principal, call.path.account_id, call.query
    )
