"""When a transaction was delivered: the one home of the rule, as a SQL expression for the
statements of any domain that shows it (the push history, the portal, exports, retention).

A pure module over the tables (like companies/zone.py's ZONE_OF): repositories of other domains
import it, where they may not import the transactions' repositories.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, tuple_

from app.transactions.tables import BankTransaction, IdxPull, SentBatch


def delivered_at() -> Any:
    """When a transaction was delivered, derived from the pull log: the first successful
    answer, since it was (last) sent, whose (sent_at, id) slice covers it; else, once the pull
    log is purged, when its whole batch was (folded in by the retention purge); else null."""
    key = tuple_(BankTransaction.sent_at, BankTransaction.id)
    folded = (
        select(SentBatch.delivered_at)
        .where(
            SentBatch.account_pk == BankTransaction.account_pk,
            SentBatch.sent_at == BankTransaction.sent_at,
        )
        .correlate(BankTransaction)
        .scalar_subquery()
    )
    return func.coalesce(_pulled_at(key), folded)


def _pulled_at(key: Any) -> Any:
    return (
        select(func.min(IdxPull.pulled_at))
        .where(
            IdxPull.account_pk == BankTransaction.account_pk,
            IdxPull.status == 200,
            IdxPull.rows > 0,
            IdxPull.pulled_at >= BankTransaction.sent_at,
            tuple_(IdxPull.first_sent_at, IdxPull.first_id) <= key,
            tuple_(IdxPull.last_sent_at, IdxPull.last_id) >= key,
        )
        .correlate(BankTransaction)
        .scalar_subquery()
    )
