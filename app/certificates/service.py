"""Balance certificates for the client API: the bank's daily figures in, certificates and an
auditor's export out, the tenant's strict mode, and the push-time continuity check it enables."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.accounts import service as accounts
from app.accounts.tables import SourceAccount
from app.certificates import engine, repository, rules, schemas
from app.certificates.tables import CertificateSettings, DailyBalance, DailyBalanceChange
from app.kit.errors import BadRequest, NotFound
from app.kit.principal import Principal
from app.kit.schemas import ErrorValidationItem

certify = engine.certify
_BALANCE = TypeAdapter(schemas.BalanceIn)
_HUNDRED = Decimal(100)
_LIMIT = Decimal(10) ** 13


class Pushed(Protocol):
    """What the continuity check reads of a push's accepted items."""

    @property
    def id(self) -> str: ...
    @property
    def amount(self) -> Decimal: ...
    @property
    def balance(self) -> Decimal | None: ...


def _item_error(ident: str, message: str) -> ErrorValidationItem:
    return ErrorValidationItem(itemId=ident, message=message, validatorName="Balance")


def _judge_balances(
    raw: Sequence[Any],
) -> tuple[list[schemas.BalanceIn], list[ErrorValidationItem]]:
    items, errors, seen = [], [], set()
    for index, value in enumerate(raw):
        ident = value.get("date") if isinstance(value, dict) else None
        ident = str(ident) if ident else f"balances[{index}]"
        try:
            item = _BALANCE.validate_python(value)
        except ValidationError as exc:
            for err in exc.errors(include_url=False, include_input=False):
                name = ".".join(str(p) for p in err["loc"]) or "item"
                errors.append(_item_error(ident, f"{ident}: {name} {err['msg'].lower()}"))
            continue
        for name, amount in (
            ("closingBalance", item.closingBalance),
            ("availableBalance", item.availableBalance),
        ):
            if amount is not None and (abs(amount) >= _LIMIT or (amount * _HUNDRED) % 1):
                errors.append(
                    _item_error(ident, f"{ident}: {name} must have at most 2 places and 13 digits")
                )
        if item.date in seen:
            errors.append(_item_error(ident, f"{ident}: the same date twice in one request"))
        seen.add(item.date)
        items.append(item)
    return items, errors


async def post_balances(
    session: AsyncSession,
    principal: Principal,
    company_id: str,
    connection_id: str,
    account_id: str,
    body: schemas.BalancesRequest,
) -> schemas.BalancesResponse:
    """The bank's end-of-day figures. All or nothing: a bad item is named and nothing is
    stored; the same date again replaces the figure, and the old one is audited."""
    items, errors = _judge_balances(body.balances)
    if errors:
        raise BadRequest(
            f"The balances were rejected and nothing was stored: {len(errors)} problem(s).",
            errors=errors,
        )
    _, account = await accounts.get(
        session, principal, company_id, connection_id, account_id, for_update=True
    )
    now = clock.now()
    results = []
    for item in items:
        old = await repository.figure(session, account.pk, item.date)
        if old is None:
            repository.add(
                session,
                DailyBalance(
                    account_pk=account.pk,
                    day=item.date,
                    closing=item.closingBalance,
                    available=item.availableBalance,
                    received_at=now,
                ),
            )
            result = "created"
        elif (old.closing, old.available) == (item.closingBalance, item.availableBalance):
            result = "unchanged"
        else:
            await repository.audit_figure(
                session,
                DailyBalanceChange(
                    account_pk=account.pk,
                    day=item.date,
                    old_closing=old.closing,
                    old_available=old.available,
                    new_closing=item.closingBalance,
                    new_available=item.availableBalance,
                    changed_at=now,
                ),
            )
            old.closing, old.available, old.received_at = (
                item.closingBalance,
                item.availableBalance,
                now,
            )
            result = "replaced"
        results.append(
            schemas.BalanceResult(
                date=item.date,
                result=result,
                closingBalance=item.closingBalance,
                availableBalance=item.availableBalance,
            )
        )
    await session.flush()
    await repository.mark_dirty(session, account.pk, min(i.date for i in items))
    await engine.certify(session, [account.pk])
    return schemas.BalancesResponse(results=results)


async def _account(
    session: AsyncSession,
    principal: Principal,
    company_id: str,
    connection_id: str,
    account_id: str,
) -> SourceAccount:
    _, account = await accounts.get(session, principal, company_id, connection_id, account_id)
    return account


async def list_certificates(
    session: AsyncSession,
    principal: Principal,
    company_id: str,
    connection_id: str,
    account_id: str,
    q: schemas.CertificatesQuery,
) -> schemas.Certificates:
    account = await _account(session, principal, company_id, connection_id, account_id)
    rows, total = await repository.page(session, account.pk, q.from_, q.to, q.offset, q.pageSize)
    return schemas.Certificates(
        results=[schemas.to_wire(r) for r in rows],
        pageNumber=q.page,
        pageSize=q.pageSize,
        totalResults=total,
    )


def _parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadRequest(
            f"{text!r} is not a date (YYYY-MM-DD).",
            errors=[ErrorValidationItem(itemId="date", message="not a date", validatorName="Date")],
        ) from None


async def certificate_day(
    session: AsyncSession,
    principal: Principal,
    company_id: str,
    connection_id: str,
    account_id: str,
    day_text: str,
) -> schemas.CertificateDay:
    day = _parse_day(day_text)
    account = await _account(session, principal, company_id, connection_id, account_id)
    revisions = await repository.revisions(session, account.pk, day)
    current = next((r for r in revisions if r.is_current), None)
    if current is None:
        raise NotFound(f"No balance certificate was found for {day.isoformat()}")
    lines = await repository.day_lines(session, account.pk, day)
    return schemas.CertificateDay(
        **dict(schemas.to_wire(current)),
        lines=[_line_wire(x) for x in lines],
        revisions=[schemas.to_wire(r) for r in revisions],
    )


def _line_wire(row: Any) -> schemas.CertificateLine:
    return schemas.CertificateLine(
        id=row.transaction_id,
        date=row.cleared_on,
        description=row.description,
        amount=row.amount,
        balance=row.balance,
        sentOnUtc=row.sent_at,
    )


async def export(
    session: AsyncSession,
    principal: Principal,
    company_id: str,
    connection_id: str,
    account_id: str,
) -> dict[str, Any]:
    """Every revision in chain order, each current one with its lines: what `bankfeeds
    certificates verify` re-computes offline (docs/CERTIFICATES.md)."""
    account = await _account(session, principal, company_id, connection_id, account_id)
    out = []
    lines_of: dict[date, list[Any]] = {}
    for row in await repository.revisions(session, account.pk):
        wire = json.loads(schemas.to_wire(row).model_dump_json(by_alias=True))
        if row.is_current:
            if row.day not in lines_of:
                lines_of[row.day] = await repository.day_lines(session, account.pk, row.day)
            wire["lines"] = [
                json.loads(_line_wire(x).model_dump_json(by_alias=True)) for x in lines_of[row.day]
            ]
        out.append(wire)
    return {
        "accountId": account.account_id,
        "currency": account.currency,
        "exportedOnUtc": clock.now().isoformat(),
        "certificates": out,
    }


CSV_COLUMNS = (
    "kind",
    "date",
    "revision",
    "sequence",
    "current",
    "status",
    "opening",
    "credits",
    "debits",
    "count",
    "closing",
    "expectedClosing",
    "firstBreak",
    "difference",
    "linesDigest",
    "previousDigest",
    "chainDigest",
    "deliveredThroughUtc",
    "lineId",
    "description",
    "amount",
    "balance",
)


def export_csv(document: dict[str, Any]) -> str:
    """The export as CSV: a `certificate` row per revision, then a `line` row per line of a
    current one; amounts in their canonical two-place text."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for cert in document["certificates"]:
        row = {k: v for k, v in cert.items() if k in CSV_COLUMNS}
        for name in ("opening", "credits", "debits", "closing", "expectedClosing", "difference"):
            row[name] = rules.amount_text(_dec(cert.get(name))) or ""
        writer.writerow({**row, "kind": "certificate", "current": str(cert["current"]).lower()})
        for line in cert.get("lines", []):
            writer.writerow(
                {
                    "kind": "line",
                    "date": line["date"],
                    "revision": cert["revision"],
                    "lineId": line["id"],
                    "description": line["description"],
                    "amount": rules.amount_text(_dec(line["amount"])),
                    "balance": rules.amount_text(_dec(line.get("balance"))) or "",
                }
            )
    return buffer.getvalue()


def _dec(value: Any) -> Decimal | None:
    return None if value is None or value == "" else Decimal(str(value))


async def accounts_with_gap(
    session: AsyncSession, account_pks: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of these accounts have a day whose current certificate is a gap."""
    return await repository.gap_accounts(session, account_pks) if account_pks else set()


async def settings_of(session: AsyncSession, principal: Principal) -> schemas.BalanceSettings:
    return schemas.BalanceSettings(strict=await repository.strict(session, principal.tenant_id))


async def set_settings(
    session: AsyncSession, principal: Principal, strict: bool
) -> schemas.BalanceSettings:
    row = await repository.settings_row(session, principal.tenant_id)
    if row is None:
        repository.add(
            session,
            CertificateSettings(
                tenant_id=principal.tenant_id, strict=strict, updated_at=clock.now()
            ),
        )
    else:
        row.strict, row.updated_at = strict, clock.now()
    return schemas.BalanceSettings(strict=strict)


async def continuity_error(
    session: AsyncSession, tenant_id: uuid.UUID, account_pk: uuid.UUID, items: Sequence[Pushed]
) -> ErrorValidationItem | None:
    """Strict mode only: the first item whose balance is not the running balance (the line
    before it, already accepted or in this push, plus its amount). None when it holds or the
    tenant did not opt in; a push without balances costs nothing."""
    if not any(i.balance is not None for i in items):
        return None
    if not await repository.strict(session, tenant_id):
        return None
    running = await repository.last_line_balance(session, account_pk)
    for item in items:
        expected = running + item.amount if running is not None else None
        if item.balance is not None and expected is not None and item.balance != expected:
            return ErrorValidationItem(
                itemId=item.id,
                message=f"{item.id}: balance {rules.amount_text(item.balance)} breaks the running "
                f"balance (expected {rules.amount_text(expected)}: the previous balance plus "
                f"{rules.amount_text(item.amount)}); a line may be missing before it.",
                validatorName="BalanceContinuity",
            )
        running = item.balance if item.balance is not None else expected
    return None
