"""HTTP for feed health (extensions): accounts' pull state, last pulls, re-serve."""

from __future__ import annotations

from app.accounts import schemas as account_schemas
from app.accounts import service as accounts
from app.feeds import schemas, service
from app.kit.schemas import AccountPath, ConnectionPath
from app.tenants.auth import ClientCall, ClientOperations

TAG = "Feed health"
CONNECTION = "/companies/{companyId}/connections/{connectionId}"
ACCOUNT = f"{CONNECTION}/connectionInfo/bankFeedAccounts/{{accountId}}"
OPERATIONS = ClientOperations()


@OPERATIONS.operation(
    "GET",
    f"{CONNECTION}/feedHealth",
    params=ConnectionPath,
    operation_id="get-connection-feed-health",
    summary="Feed health of a connection's accounts (extension)",
    tag=TAG,
    responses={200: account_schemas.FeedHealthList},
)
async def connection_health(
    call: ClientCall[ConnectionPath, None, None],
) -> account_schemas.FeedHealthList:
    """Extension: each source account's feedHealth (healthy, stale, disconnected) and when
    QuickBooks last pulled it."""
    return await service.connection_health(
        call.session, call.principal, call.path.company_id, call.path.connection_id
    )


@OPERATIONS.operation(
    "GET",
    f"{ACCOUNT}/pulls",
    params=AccountPath,
    operation_id="list-source-account-pulls",
    summary="An account's last QuickBooks pulls (extension)",
    tag=TAG,
    query=schemas.PullsQuery,
    responses={200: schemas.Pulls},
)
async def list_pulls(call: ClientCall[AccountPath, schemas.PullsQuery, None]) -> schemas.Pulls:
    """Extension: the account's last pulls, newest first: the range asked, the page, the rows
    served and the answer's status."""
    _, account = await accounts.get(
        call.session,
        call.principal,
        call.path.company_id,
        call.path.connection_id,
        call.path.account_id,
    )
    rows = await service.last_pulls(call.session, account, call.query.pageSize)
    return schemas.Pulls(results=[service.pull_wire(r) for r in rows])


@OPERATIONS.operation(
    "POST",
    f"{ACCOUNT}/reserve",
    params=AccountPath,
    operation_id="reserve-source-account-transactions",
    summary="Re-serve an account's sent transactions (extension)",
    tag=TAG,
    body=schemas.ReserveRequest,
    responses={200: schemas.Reserve},
)
async def reserve(call: ClientCall[AccountPath, None, schemas.ReserveRequest]) -> schemas.Reserve:
    """Extension: publish again the account's sent transactions cleared in [fromDate, toDate]:
    their modifiedDate becomes now, ids unchanged, so QuickBooks' next pull brings them once
    more and keeps one copy. Audited; `dryRun` only counts them."""
    _, account = await accounts.get(
        call.session,
        call.principal,
        call.path.company_id,
        call.path.connection_id,
        call.path.account_id,
        for_update=True,
    )
    body = call.body
    actor = f"api: {body.requestedBy}" if body.requestedBy else "api"
    return await service.reserve(
        call.session,
        call.principal,
        account,
        body.fromDate,
        body.toDate,
        actor,
        dry_run=body.dryRun,
    )
