"""HTTP for the IDX API, mounted at /partners/intuit/idx: what QuickBooks Online calls."""

from __future__ import annotations

from app.api import Api, Call
from app.idx import schemas, service
from app.idx.auth import idx_principal
from app.idx.paging import PageCursors

TAG = "Idx"
idx_api = Api(idx_principal, security="idx", prefix="/partners/intuit/idx")


@idx_api.operation(
    "GET",
    "/accounts",
    operation_id="list-accounts",
    summary="List accounts",
    tag=TAG,
    query=schemas.IdxPageQuery,
    responses={200: schemas.IntuitAccounts},
    errors=(400, 401, 429),
)
async def list_accounts(call: Call[None]) -> schemas.IntuitAccounts:
    """The connection's source accounts, as QuickBooks shows them for picking. Listing moves
    pending accounts to connecting."""
    return await service.list_accounts(call.session, call.principal, call.query)


@idx_api.operation(
    "GET",
    "/accounts/{accountId}/transactions",
    operation_id="list-transactions",
    summary="List transactions",
    tag=TAG,
    query=schemas.TransactionsQuery,
    responses={200: schemas.IntuitTransactions},
    errors=(400, 401, 404, 429),
    after_error=service.remember_refused_pull,
)
async def list_transactions(call: Call[None]) -> schemas.IntuitTransactions:
    """Sent transactions whose modifiedDate is in [startDate, endDate). The account's pending
    transactions are sent first (QuickBooks' Update). The first query fixes the account's
    feedStartDate (at most 7 days back) and connects it."""
    services = call.services
    cursors = PageCursors(services.redis, services.settings.redis_prefix)
    return await service.list_transactions(
        call.session, services.settings, call.principal, call.path("accountId"), call.query, cursors
    )
