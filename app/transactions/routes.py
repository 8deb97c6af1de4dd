"""HTTP for pushes, push operations, the push-option model and an account's transactions."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from app import clock
from app.access import service as access
from app.accounts import service as accounts
from app.companies import service as companies
from app.kit.api import Encoded
from app.kit.schemas import AccountPath, CompanyPath, page_meta
from app.tenants.auth import ClientCall, ClientOperations
from app.transactions import options, schemas, service

TAG = "Transactions"
CONNECTION = "/companies/{companyId}/connections/{connectionId}"
OPERATIONS = ClientOperations()


@dataclass(frozen=True, slots=True)
class PushOperationPath:
    company_id: str
    push_operation_key: str


def _ids(path: AccountPath) -> tuple[str, str, str]:
    return path.company_id, path.connection_id, path.account_id


@OPERATIONS.operation(
    "POST",
    f"{CONNECTION}/push/bankAccounts/{{accountId}}/bankTransactions",
    params=AccountPath,
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
    call: ClientCall[AccountPath, schemas.PushQuery, service.PushEnvelope],
) -> Encoded:
    """Pushes cleared transactions to one connected account. The push is judged whole against
    QuickBooks' rules; if any item fails, nothing is stored and every problem is listed. Accepted
    transactions wait as pending until the daily send (or QuickBooks' Update). Send an
    Idempotency-Key header to make retries safe."""
    answer = await service.push(
        call.session, call.principal, *_ids(call.path), call.body, call.query
    )
    return Encoded(schemas.encode_push_answer(answer))


@OPERATIONS.operation(
    "GET",
    f"{CONNECTION}/options/bankAccounts/{{accountId}}/bankTransactions",
    params=AccountPath,
    operation_id="get-create-bank-transactions-model",
    summary="Get create bank transactions model",
    tag=TAG,
    responses={200: schemas.PushOption},
)
async def push_options(call: ClientCall[AccountPath, None, None]) -> schemas.PushOption:
    """Which fields a push needs and the rules it must meet, for this account today."""
    company = await companies.get(call.session, call.principal, call.path.company_id)
    _, account = await accounts.get(call.session, call.principal, *_ids(call.path))
    zone = await companies.time_zone(call.session, call.principal, company)
    return options.build(account, clock.today_in(zone))


@OPERATIONS.operation(
    "GET",
    "/companies/{companyId}/push",
    params=CompanyPath,
    operation_id="list-create-operations",
    summary="List create operations",
    tag=TAG,
    query=schemas.PushOperationsQuery,
    responses={200: schemas.PushOperations},
)
async def list_push_operations(
    call: ClientCall[CompanyPath, schemas.PushOperationsQuery, None],
) -> schemas.PushOperations:
    """The company's push operations, newest first. `query` filters on status,
    dataConnectionKey, pushOperationKey, requestedOnUtc and completedOnUtc."""
    q = call.query
    company_id = call.path.company_id
    rows, total = await service.operations(call.session, call.principal, company_id, q)
    results = [schemas.to_wire(r) for r in rows]
    return schemas.PushOperations(
        results=results, **page_meta(f"/companies/{company_id}/push", q, total)
    )


@OPERATIONS.operation(
    "GET",
    "/companies/{companyId}/push/{pushOperationKey}",
    params=PushOperationPath,
    operation_id="get-create-operation",
    summary="Get create operation",
    tag=TAG,
    responses={200: schemas.PushOperation},
)
async def get_push_operation(
    call: ClientCall[PushOperationPath, None, None],
) -> schemas.PushOperation:
    op = await service.operation(
        call.session, call.principal, call.path.company_id, call.path.push_operation_key
    )
    return schemas.to_wire(op)


@OPERATIONS.operation(
    "GET",
    f"{CONNECTION}/connectionInfo/bankFeedAccounts/{{accountId}}/bankTransactions",
    params=AccountPath,
    operation_id="list-source-account-transactions",
    summary="List a source account's transactions (extension)",
    tag=TAG,
    query=schemas.TransactionsQuery,
    responses={200: schemas.AccountTransactions},
)
async def list_account_transactions(
    call: ClientCall[AccountPath, schemas.TransactionsQuery, None],
) -> schemas.AccountTransactions:
    """Extension: the account's accepted transactions, newest first, with their delivery state
    (pending or sent, when sent, and the push operation), for support teams. Each read is in
    the access log (the key's prefix, the route, the company)."""
    answer = await service.account_transactions(
        call.session, call.principal, *_ids(call.path), call.query
    )
    await access.record_access(
        call.session,
        call.principal.tenant_id,
        call.principal.environment,
        uuid.UUID(call.path.company_id),  # found above, so a valid id
        actor_kind="api_key",
        actor=call.principal.key_prefix,
        action="read_lines",
        route=call.request.url.path,
    )
    return answer
