"""HTTP for pushes, push operations, the push-option model and an account's transactions."""

from __future__ import annotations

from typing import Any

from app import clock
from app.accounts import service as accounts
from app.api import Call, client_api
from app.companies import service as companies
from app.schemas import PageQuery, page_meta
from app.transactions import options, schemas, service

TAG = "Transactions"
CONNECTION = "/companies/{companyId}/connections/{connectionId}"


def _ids(call: Call[Any]) -> tuple[str, str, str]:
    return call.path("companyId"), call.path("connectionId"), call.path("accountId")


@client_api.operation(
    "POST",
    f"{CONNECTION}/push/bankAccounts/{{accountId}}/bankTransactions",
    operation_id="create-bank-transactions",
    summary="Create bank transactions",
    tag=TAG,
    body=schemas.CreateBankTransactions,
    parser=service.PushEnvelope.model_validate,
    query=schemas.PushQuery,
    responses={200: schemas.CreateBankTransactionsResponse},
    errors=(400, 401, 404, 409, 422),
    idempotent=True,
    after_error=service.remember_rejection,
)
async def create_bank_transactions(
    call: Call[service.PushEnvelope],
) -> schemas.CreateBankTransactionsResponse:
    """Pushes cleared transactions to one connected account. The push is judged whole against
    QuickBooks' rules; if any item fails, nothing is stored and every problem is listed. Accepted
    transactions wait as pending until the daily send (or QuickBooks' Update). Send an
    Idempotency-Key header to make retries safe."""
    return await service.push(call.session, call.principal, *_ids(call), call.body, call.query)


@client_api.operation(
    "GET",
    f"{CONNECTION}/options/bankAccounts/{{accountId}}/bankTransactions",
    operation_id="get-create-bank-transactions-model",
    summary="Get create bank transactions model",
    tag=TAG,
    responses={200: schemas.PushOption},
)
async def push_options(call: Call[None]) -> schemas.PushOption:
    """Which fields a push needs and the rules it must meet, for this account today."""
    company = await companies.get(call.session, call.principal, call.path("companyId"))
    _, account = await accounts.get(call.session, call.principal, *_ids(call))
    zone = await companies.time_zone(call.session, call.principal, company)
    return options.build(account, clock.today_in(zone))


@client_api.operation(
    "GET",
    "/companies/{companyId}/push",
    operation_id="list-create-operations",
    summary="List create operations",
    tag=TAG,
    query=schemas.PushOperationsQuery,
    responses={200: schemas.PushOperations},
)
async def list_push_operations(call: Call[None]) -> schemas.PushOperations:
    """The company's push operations, newest first. `query` filters on status,
    dataConnectionKey, pushOperationKey, requestedOnUtc and completedOnUtc."""
    q: PageQuery = call.query
    company_id = call.path("companyId")
    rows, total = await service.operations(call.session, call.principal, company_id, q)
    results = [schemas.to_wire(r) for r in rows]
    return schemas.PushOperations(
        results=results, **page_meta(f"/companies/{company_id}/push", q, total)
    )


@client_api.operation(
    "GET",
    "/companies/{companyId}/push/{pushOperationKey}",
    operation_id="get-create-operation",
    summary="Get create operation",
    tag=TAG,
    responses={200: schemas.PushOperation},
)
async def get_push_operation(call: Call[None]) -> schemas.PushOperation:
    op = await service.operation(
        call.session, call.principal, call.path("companyId"), call.path("pushOperationKey")
    )
    return schemas.to_wire(op)


@client_api.operation(
    "GET",
    f"{CONNECTION}/connectionInfo/bankFeedAccounts/{{accountId}}/bankTransactions",
    operation_id="list-source-account-transactions",
    summary="List a source account's transactions (extension)",
    tag=TAG,
    query=schemas.TransactionsQuery,
    responses={200: schemas.AccountTransactions},
)
async def list_account_transactions(call: Call[None]) -> schemas.AccountTransactions:
    """Extension: the account's accepted transactions, newest first, with their delivery state
    (pending or sent, when sent, and the push operation), for support teams."""
    return await service.account_transactions(call.session, call.principal, *_ids(call), call.query)
