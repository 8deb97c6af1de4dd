"""HTTP for the pendings extension: holds posted, listed, read and released; a push's links;
the tenant's matching mode."""

from __future__ import annotations

from dataclasses import dataclass

from app.db import parse_uuid
from app.kit.api import Result
from app.kit.errors import NotFound
from app.kit.schemas import AccountPath, ErrorMessage
from app.pendings import linking, reversals, schemas, service
from app.tenants.auth import ClientCall, ClientOperations
from app.transactions.service import remember_rejection

TAG = "Pending transactions"
ACCOUNT = "/companies/{companyId}/connections/{connectionId}/push/bankAccounts/{accountId}"
PENDINGS = f"{ACCOUNT}/pendingTransactions"
OPERATIONS = ClientOperations()


@dataclass(frozen=True, slots=True)
class PendingPath:
    company_id: str
    connection_id: str
    account_id: str
    pending_transaction_id: str


@dataclass(frozen=True, slots=True)
class TransactionPath:
    company_id: str
    connection_id: str
    account_id: str
    transaction_id: str


def _ids(path: AccountPath | PendingPath | TransactionPath) -> tuple[str, str, str]:
    return path.company_id, path.connection_id, path.account_id


@OPERATIONS.operation(
    "POST",
    PENDINGS,
    params=AccountPath,
    operation_id="create-pending-transactions",
    summary="Create or update pending transactions (extension)",
    tag=TAG,
    body=schemas.PendingBody,
    parser=schemas.PendingEnvelope.model_validate,
    responses={
        201: list[schemas.PendingItem],
        207: list[schemas.PendingItem],
        # Every item refused: the per-item answers; a body that is not an envelope at all is
        # the usual ErrorMessage.
        400: list[schemas.PendingItem] | ErrorMessage,
    },
    errors=(400, 401, 404, 409, 422),
    idempotent=True,
)
async def create_pendings(
    call: ClientCall[AccountPath, None, schemas.PendingEnvelope],
) -> Result:
    """Extension: holds (card authorizations, deposits on hold), never published to QuickBooks.
    Each item is judged alone: authorizedDate today or up to 30 days back, a non-zero amount.
    Posting a held id again updates its amount and description (history kept). 201 when every
    item went in, 207 when some did, 400 when none did. Send an Idempotency-Key to retry."""
    status, items = await service.create(call.session, call.principal, *_ids(call.path), call.body)
    return Result(items, status)


@OPERATIONS.operation(
    "GET",
    PENDINGS,
    params=AccountPath,
    operation_id="list-pending-transactions",
    summary="List pending transactions (extension)",
    tag=TAG,
    query=schemas.PendingQuery,
    responses={200: schemas.PendingPage},
)
async def list_pendings(
    call: ClientCall[AccountPath, schemas.PendingQuery, None],
) -> schemas.PendingPage:
    """Extension: the account's pendings, newest authorization first, with their links and
    suggestions; `status` keeps one state (held, posted, released, expired)."""
    return await service.list_page(call.session, call.principal, *_ids(call.path), call.query)


@OPERATIONS.operation(
    "GET",
    f"{PENDINGS}/{{pendingTransactionId}}",
    params=PendingPath,
    operation_id="get-pending-transaction",
    summary="Get a pending transaction (extension)",
    tag=TAG,
    responses={200: schemas.PendingOut},
)
async def get_pending(call: ClientCall[PendingPath, None, None]) -> schemas.PendingOut:
    return await service.get_one(
        call.session, call.principal, *_ids(call.path), call.path.pending_transaction_id
    )


@OPERATIONS.operation(
    "POST",
    f"{PENDINGS}/{{pendingTransactionId}}/release",
    params=PendingPath,
    operation_id="release-pending-transaction",
    summary="Release a pending transaction (extension)",
    tag=TAG,
    body=schemas.ReleaseBody,
    responses={200: schemas.PendingOut},
    errors=(400, 401, 404, 409),
)
async def release_pending(
    call: ClientCall[PendingPath, None, schemas.ReleaseBody],
) -> schemas.PendingOut:
    """Extension: a held pending that will never post (reversed, declined, voided)."""
    return await service.release(
        call.session,
        call.principal,
        *_ids(call.path),
        call.path.pending_transaction_id,
        call.body,
    )


@OPERATIONS.operation(
    "GET",
    f"{ACCOUNT}/pendingLinks",
    params=AccountPath,
    operation_id="list-pending-links",
    summary="A push's links to pending transactions (extension)",
    tag=TAG,
    query=schemas.LinksQuery,
    responses={200: schemas.Links},
)
async def list_links(call: ClientCall[AccountPath, schemas.LinksQuery, None]) -> schemas.Links:
    """Extension: the links a push operation made (pending id, transaction id, matched by,
    amount delta), or the account's latest 100 without `pushOperationKey`; the push's own
    answer keeps Codat's shape."""
    account = await service.account_of(call.session, call.principal, *_ids(call.path))
    wanted = call.query.pushOperationKey
    key = parse_uuid(wanted) if wanted is not None else None
    if wanted is not None and key is None:
        raise NotFound(f"No push operation was found with key {wanted}")
    return await linking.links_of_operation(call.session, account.pk, key)


@OPERATIONS.operation(
    "GET",
    "/settings/pendingTransactions",
    operation_id="get-pending-settings",
    summary="Get pending matching (extension)",
    tag=TAG,
    responses={200: schemas.MatchingSettings},
    errors=(401,),
)
async def get_matching(call: ClientCall[None, None, None]) -> schemas.MatchingSettings:
    return await service.matching(call.session, call.principal)


@OPERATIONS.operation(
    "PUT",
    "/settings/pendingTransactions",
    operation_id="replace-pending-settings",
    summary="Set pending matching (extension)",
    tag=TAG,
    body=schemas.MatchingSettings,
    responses={200: schemas.MatchingSettings},
    errors=(400, 401),
)
async def put_matching(
    call: ClientCall[None, None, schemas.MatchingSettings],
) -> schemas.MatchingSettings:
    """`explicit` (default): a cleared line links by the same id or pendingTransactionId only.
    `auto`: also by a unique exact-amount match (see docs/PENDING.md)."""
    return await service.set_matching(call.session, call.principal, call.body)


@OPERATIONS.operation(
    "POST",
    f"{ACCOUNT}/bankTransactions/{{transactionId}}/reversal",
    params=TransactionPath,
    operation_id="reverse-bank-transaction",
    summary="Reverse a published transaction (extension)",
    tag=TAG,
    body=schemas.ReversalBody,
    responses={200: schemas.ReversalOut},
    errors=(400, 401, 404, 409, 422),
    idempotent=True,
    after_error=remember_rejection,
)
async def reverse_transaction(
    call: ClientCall[TransactionPath, None, schemas.ReversalBody],
) -> schemas.ReversalOut:
    """Extension: publishes an offsetting line (same amount, opposite sign, dated today unless
    `date` is given, its description naming the original); the original is never edited.
    Refused (409) for a line not yet sent or already reversed. Audited."""
    return await reversals.reverse(
        call.session,
        call.principal,
        *_ids(call.path),
        call.path.transaction_id,
        call.body,
    )
