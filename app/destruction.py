"""Deleting a company or an account destroys it: what ON DELETE CASCADE does not reach (the
tables app/retention/rules.py marks "scrub") is removed here, in the caller's transaction, and
the destruction log says how much went (counts only).

Cross-domain, so on the lifecycle floor: the services' delete calls it before removing the row."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.accounts import repository as accounts_repo
from app.accounts.tables import SourceAccount
from app.companies.tables import Company
from app.connections import repository as connections_repo
from app.kit.idempotency import repository as idempotency_repo
from app.kit.principal import Caller
from app.retention import repository as retention_repo
from app.webhooks import repository as webhooks_repo


def _quoted(value: str) -> str:
    return json.dumps(value)


@dataclass
class Names:
    """How rows name what is deleted: each group is strings found together in a row. Webhook
    payloads always carry the company's and connection's ids; a kept answer to an account's
    creation carries only the account's own id (`loose`, for the kept answers alone: they live a
    day, and forgetting another account's answer only makes its retry run again)."""

    groups: list[tuple[str, ...]] = field(default_factory=list)
    loose: list[tuple[str, ...]] = field(default_factory=list)


async def _webhook_events(session: AsyncSession, owner: Caller, names: Names) -> int:
    return await webhooks_repo.forget_mentions(
        session, owner.tenant_id, owner.environment, names.groups
    )


async def _idempotency_keys(session: AsyncSession, owner: Caller, names: Names) -> int:
    encoded = [tuple(n.encode() for n in g) for g in names.groups + names.loose]
    return await idempotency_repo.forget_mentions(
        session, owner.tenant_id, owner.environment, encoded
    )


Scrub = Callable[[AsyncSession, Caller, Names], Awaitable[int]]
# The "scrub" tables of app/retention/rules.py, each with what removes the rows naming a company
# or an account (every group of strings found together in a row names it).
SCRUBS: dict[str, Scrub] = {
    "webhook_events": _webhook_events,
    "idempotency_keys": _idempotency_keys,
}


def _account_names(names: Names, connection_id: uuid.UUID, account_id: str) -> Names:
    """An account: its connection's id with its own id as payloads write it."""
    quoted = _quoted(account_id)
    names.groups += [
        (str(connection_id), f'"accountId":{quoted}'),
        (str(connection_id), f'"sourceAccount":{{"id":{quoted}'),
    ]
    names.loose.append((f'"id":{quoted}',))
    return names


async def _scrub(session: AsyncSession, owner: Caller, names: Names, policy: str) -> None:
    now = clock.now()
    rows: list[dict[str, Any]] = []
    for table, scrub in SCRUBS.items():
        n = await scrub(session, owner, names)
        if n:
            rows.append(_entry(owner, policy, table, n, now))
    await retention_repo.log_destruction(session, rows)


def _entry(owner: Caller, policy: str, table: str, rows: int, at: Any) -> dict[str, Any]:
    return {
        "tenant_id": owner.tenant_id,
        "at": at,
        "policy": policy,
        "table_name": table,
        "rows": rows,
    }


async def company_deleted(session: AsyncSession, company: Company) -> None:
    """Before the company's row goes (its cascade takes connections, accounts, lines, pull log,
    operations, credentials, Link sessions and OTPs): the rows that only name it."""
    names = Names(groups=[(str(company.id),)])
    for connection in await connections_repo.of_companies(session, [company.id]):
        names.groups.append((str(connection.id),))
        for account in await accounts_repo.of_connection(session, connection.id):
            _account_names(names, connection.id, account.account_id)
    await _scrub(session, company, names, "company_deleted")
    await retention_repo.log_destruction(
        session, [_entry(company, "company_deleted", "companies", 1, clock.now())]
    )


async def account_deleted(session: AsyncSession, owner: Caller, account: SourceAccount) -> None:
    """Before the account's row goes (its cascade takes its lines, batches, pull log, operations,
    rejections and re-serves): the rows that only name it."""
    names = _account_names(Names(), account.connection_id, account.account_id)
    await _scrub(session, owner, names, "account_deleted")
    await retention_repo.log_destruction(
        session, [_entry(owner, "account_deleted", "source_accounts", 1, clock.now())]
    )
