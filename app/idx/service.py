"""What QuickBooks sees of a connection, and the status changes its calls drive.

Listing accounts moves `pending` ones to `connecting`; the first transactions query of an account
fixes its `feedStartDate` (never more than 7 days back) and makes it `connected`; any later query
keeps it so, returns a `disconnected` account to `connected`, and its connection to `Linked`.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import clock, lifecycle, metrics, vault
from app.accounts.tables import SourceAccount
from app.certificates import service as certificates
from app.config import Settings
from app.db import parse_uuid, transaction
from app.idx import paging, repository, schemas
from app.kit.errors import BadRequest, NotFound
from app.kit.principal import IdxPrincipal
from app.pendings import linking as pendings
from app.transactions import service as transactions
from app.transactions.send_repository import PageRow

Model = TypeVar("Model", bound=BaseModel)

BACKFILL_DAYS = 7
# Stable transaction ids for Intuit (its schema wants a uuid; ours are the client's strings).
TRANSACTION_NAMESPACE = uuid.UUID("0b7e5f0c-6f0e-4d4e-9a53-5c8f4b7c2d10")

_V2_TYPES: dict[str, tuple[schemas.IntuitAccountType, str]] = {
    "checking": ("deposit", "checking"),
    "savings": ("deposit", "savings"),
    "loan": ("loan", "loan"),
    "creditcard": ("creditcard", "creditcard"),
    "prepaidcard": ("cashcard", "prepaidcard"),
}


def intuit_type(account: SourceAccount) -> tuple[schemas.IntuitAccountType, str]:
    """Intuit's account type and sub-type from ours. v1's free text: Credit means a card."""
    raw = (account.account_type or "").replace(" ", "").replace("_", "").lower()
    if raw in _V2_TYPES:
        return _V2_TYPES[raw]
    if raw in ("credit", "creditcards"):
        return "creditcard", "creditcard"
    if raw in ("prepaid", "cashcard"):
        return "cashcard", "prepaidcard"
    if raw in ("mortgage", "loans"):
        return "loan", "loan"
    return "deposit", "checking"


def mask(number: str | None) -> str:
    digits = (number or "").strip()
    return f"••••{digits[-4:]}" if digits else "••••"


def _money(value: Decimal, currency: str) -> schemas.Amount:
    return schemas.Amount.model_construct(currency=currency, amount=f"{value:.2f}")


def _available(account: SourceAccount) -> schemas.Amount | None:
    """The account's availableBalance (v2 accountInfo), when the client told us one."""
    value = (account.account_info or {}).get("availableBalance")
    return None if value is None else _money(Decimal(str(value)), account.currency)


def to_intuit_account(
    account: SourceAccount, published: tuple[Decimal, date] | None = None
) -> schemas.IntuitAccount:
    """Intuit's view of an account. Its balance is the published one (SPEC §5): `published`,
    the balance and date of the latest sent line that carried one, else the account's own (as
    set through the account API; a push's balance counts only once its line is sent)."""
    kind, sub_type = intuit_type(account)
    if published is not None:
        balance, as_of = published
    else:  # no sent line carried one: the balance the client set through the account API
        balance = account.own_balance if account.own_balance is not None else Decimal(0)
        as_of = (account.own_balance_at or account.created_at).date()
    current = _money(balance, account.currency)
    available = _available(account)
    name = account.account_name or account.account_id
    number = vault.reveal(account.account_number)
    info = account.account_info or {}
    routing = account.routing_info or {}
    display = schemas.AccountDisplayInfo(
        displayName=f"{name} {mask(number)}",
        description=name,
        nickname=info.get("nickname") or name,
    )
    out = schemas.IntuitAccount(
        id=str(account.pk),
        accountDisplayInfo=display,
        accountType=kind,
        accountNumber=number or account.account_id,
        primaryCurrency=account.currency,
        accountOpenDate=info.get("accountOpenDate"),
        modifiedDate=account.modified_date,
    )
    if routing.get("bankCode"):
        out.bankRoutingInfo = [
            schemas.BankRoutingInfo(id=routing["bankCode"], type=routing.get("type") or "bankcode")
        ]
    elif account.sort_code:
        out.bankRoutingInfo = [schemas.BankRoutingInfo(id=account.sort_code, type="bankcode")]
    if kind == "deposit":
        out.depositAccountInfo = schemas.DepositAccountInfo(
            accountSubType=sub_type,
            depositBalance=schemas.Balance(
                balanceAsOf=as_of, availableBalance=available, currentBalance=current
            ),
        )
    elif kind == "creditcard":
        out.creditCardAccountInfo = schemas.CreditCardAccountInfo(
            accountSubType=sub_type,
            creditCardBalance=schemas.Balance(
                balanceAsOf=as_of, availableBalance=available, currentBalance=current
            ),
        )
    elif kind == "cashcard":
        out.cashCardAccountInfo = schemas.CashCardAccountInfo(
            accountSubType=sub_type,
            cashCardBalance=schemas.Balance(
                balanceAsOf=as_of, availableBalance=available, currentBalance=current
            ),
        )
    else:
        out.loanAccountInfo = schemas.LoanAccountInfo(accountSubType=sub_type, loanBalance=current)
    return out


_TRANSACTION_INFO = {
    "deposit": ("depositTransactionInfo", "depositTransactionType"),
    "creditcard": ("creditCardTransactionInfo", "creditCardTransactionType"),
    "cashcard": ("cashCardTransactionInfo", "cashCardTransactionType"),
    "loan": ("loanTransactionInfo", "loanTransactionType"),
    "lineofcredit": ("lineOfCreditTransactionInfo", "lineOfCreditTransactionType"),
}
_REQUIRED = object()
_NAMESPACE_BYTES = TRANSACTION_NAMESPACE.bytes


def intuit_transaction_id(account_pk: uuid.UUID, transaction_id: str) -> str:
    """uuid5(TRANSACTION_NAMESPACE, "<account pk>/<id>"), computed as RFC 4122 says without
    the uuid module's per-call checks (a page makes up to 5,000 of them)."""
    digest = bytearray(
        hashlib.sha1(
            _NAMESPACE_BYTES + f"{account_pk}/{transaction_id}".encode(), usedforsecurity=False
        ).digest()[:16]
    )
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@functools.cache
def _fields(cls: type[BaseModel]) -> tuple[tuple[str, Any], ...]:
    return tuple(
        (name, _REQUIRED if field.is_required() else field.default)
        for name, field in cls.model_fields.items()
    )


def _constructed(cls: type[Model], values: dict[str, Any]) -> Model:
    """What cls.model_construct(**values) makes (every key counted as set, defaults filled),
    without its per-call walk over the fields: the rows of a page are built from stored,
    already-checked values."""
    out = cls.__new__(cls)
    data = {}
    for name, default in _fields(cls):  # in the model's order, as the wire has them
        if name in values:
            data[name] = values[name]
        elif default is not _REQUIRED:
            data[name] = default
    object.__setattr__(out, "__dict__", data)
    object.__setattr__(out, "__pydantic_fields_set__", set(values))
    object.__setattr__(out, "__pydantic_extra__", None)
    object.__setattr__(out, "__pydantic_private__", None)
    return out


def intuit_transactions(
    account: SourceAccount,
    kind: schemas.IntuitAccountType,
    rows: Sequence[PageRow],
    authorized: Mapping[str, date] | None = None,
) -> list[schemas.IntuitTransaction]:
    """A page's rows as Intuit sees them (the hot part of a pull: no validation pass). A line
    linked to a pending before it was published is dated by its authorization (`authorized`:
    transactionDate), posted on its cleared date."""
    info_field, info_key = _TRANSACTION_INFO[kind]
    account_id = str(account.pk)
    currency = account.currency
    out = []
    authorized = authorized or {}
    for row in rows:
        assert row.sent_at is not None
        credit = row.amount > 0
        amount = _constructed(schemas.Amount, {"currency": currency, "amount": f"{row.amount:.2f}"})
        values: dict[str, Any] = {
            "transactionId": intuit_transaction_id(account.pk, row.transaction_id),
            "accountId": account_id,
            "accountType": kind,
            "transactionDate": authorized.get(row.transaction_id, row.cleared_on),
            "postedDate": row.cleared_on,
            "fundsAvailableDate": row.cleared_on,
            "transactionDescription": row.description,
            "amount": amount,
            "transactionValueType": "CREDIT" if credit else "DEBIT",
            "modifiedDate": row.sent_at,
            info_field: {info_key: "credit" if credit else "debit"},
        }
        if row.payee_name is not None:  # a string in Intuit's contract, never null: left out
            values["payeeName"] = row.payee_name
        if row.reference_number is not None:  # else the model's default, null
            values["referenceNumber"] = row.reference_number
        out.append(_constructed(schemas.IntuitTransaction, values))
    return out


async def list_accounts(
    session: AsyncSession, principal: IdxPrincipal, q: schemas.IdxPageQuery
) -> schemas.IntuitAccounts:
    rows, total = await repository.accounts_page(session, principal, q.offset, q.pageSize)
    await repository.mark_listed(session, [a.pk for a in rows], clock.now())
    published = await repository.published_balances(session, [a.pk for a in rows])
    return schemas.IntuitAccounts(
        results=[to_intuit_account(a, published.get(a.pk)) for a in rows],
        pageNumber=q.page,
        pageSize=q.pageSize,
        totalResults=total,
    )


# IDX dates are read Anywhere on Earth (SPEC §5, docs/IDX.md): the date D is the day D in UTC-12,
# [D 12:00Z, D+1 12:00Z). A caller counting dates in any zone from UTC-12 to UTC+14 who asks up
# to its tomorrow gets everything sent so far, and consecutive windows still meet edge to edge.
AOE_DAY_STARTS = time(12)


def date_starts_at(day: date) -> datetime:
    """When the IDX date `day` starts (and the date before it ends): D 12:00Z."""
    return datetime.combine(day, AOE_DAY_STARTS, UTC)


def bound(value: date | datetime | None) -> datetime | None:
    """An IDX startDate/endDate as an instant: a date by date_starts_at, a date-time as given
    (UTC when it names no zone)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return date_starts_at(value)


async def _company_today(session: AsyncSession, principal: IdxPrincipal) -> date:
    zone = await repository.company_zone(session, principal)
    assert zone is not None
    return clock.today_in(zone)


class PullRefused(BadRequest):
    """A transactions query refused after its account was found: the pull log keeps a row of
    it, written once the request's own transaction has rolled back."""

    def __init__(self, message: str, row: dict[str, Any]) -> None:
        super().__init__(message)
        self.row = row


def _pull_row(
    principal: IdxPrincipal,
    account: SourceAccount,
    q: schemas.TransactionsQuery,
    start: datetime | None,
    end: datetime | None,
    now: datetime,
    status: int,
    rows: Sequence[PageRow],
    total: int,
    lag: int | None,
) -> dict[str, Any]:
    """The pull log's row: the answer's slice of (sent_at, id) is its first and last row."""
    return {
        "tenant_id": principal.tenant_id,
        "environment": principal.environment,
        "account_pk": account.pk,
        "pulled_at": now,
        "start_at": start,
        "end_at": end,
        "page_number": q.page,
        "page_size": q.pageSize,
        "rows": len(rows),
        "total": total,
        "status": status,
        "lag_seconds": lag,
        "first_sent_at": rows[0].sent_at if rows else None,
        "first_id": rows[0].id if rows else None,
        "last_sent_at": rows[-1].sent_at if rows else None,
        "last_id": rows[-1].id if rows else None,
    }


async def remember_refused_pull(
    sessions: async_sessionmaker[AsyncSession], error: Exception
) -> None:
    """After a refused query rolled back, log the pull (its own short transaction)."""
    if isinstance(error, PullRefused):
        async with transaction(sessions) as session:
            await repository.record_pull(session, error.row)


async def list_transactions(
    session: AsyncSession,
    settings: Settings,
    principal: IdxPrincipal,
    account_id: str,
    q: schemas.TransactionsQuery,
) -> schemas.IntuitTransactions:
    pk = parse_uuid(account_id)
    account = await repository.account_for_update(session, principal, pk) if pk else None
    if account is None:
        raise NotFound(f"No account was found with ID {account_id}")
    start, end = bound(q.startDate), bound(q.endDate)
    now = clock.now()
    if start is not None and end is not None and start > end:
        raise PullRefused(
            "startDate must not be after endDate.",
            _pull_row(principal, account, q, start, end, now, 400, [], 0, None),
        )

    if account.feed_start_date is None:
        today = await _company_today(session, principal)
        earliest = today - timedelta(days=BACKFILL_DAYS)
        asked = start.date() if start is not None else earliest
        account.feed_start_date = min(max(asked, earliest), today)
    previous = account.last_queried_at
    lag = int((now - previous).total_seconds()) if previous is not None else None
    # Connected and fresh again, the connection Linked (app/lifecycle.py).
    await lifecycle.idx_queried(session, settings, account, now)
    # Update: whatever is pending for the account is sent now, so QuickBooks sees it at once.
    await transactions.send(session, [account.pk])

    # OFFSET semantics outside, a range scan from the page's first key inside: app/idx/paging.py.
    rows, total = await paging.page(session, account.pk, start, end, q.page, q.pageSize)
    await repository.record_pull(
        session, _pull_row(principal, account, q, start, end, now, 200, rows, total, lag)
    )
    # After the Update's send and this answer's deliveries: the account's days, certified.
    await certificates.certify(session, [account.pk])
    if lag is not None and q.page == 1:
        metrics.PULL_LAG.labels(str(principal.tenant_id)).observe(lag)
    return schemas.IntuitTransactions(
        results=intuit_transactions(
            account,
            intuit_type(account)[0],
            rows,
            await pendings.served_dates(session, account.pk, [r.transaction_id for r in rows]),
        ),
        pageNumber=q.page,
        pageSize=q.pageSize,
        totalResults=total,
    )
