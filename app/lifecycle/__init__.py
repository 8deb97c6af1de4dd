"""Work across domains, above them: the feed-status cascades (`cascades.py`), the disconnect
detection job (`detection.py`), the purges of what expired (`housekeeping.py`), and what a
deletion scrubs beyond its cascade (`destruction.py`).

Each reaches a domain through its service, never its repository, and no domain imports this
package: a domain's service sends a signal (`app/kit/signals.py`) at the moment a cascade is due,
and `install()` connects each signal to its cascade. Every process that serves requests or runs
jobs calls `install()` once at start-up (`app.main.create_app`, `app.worker.build_ctx`).
"""

from __future__ import annotations

from app.accounts import service as accounts
from app.companies import service as companies
from app.connections import service as connections
from app.idx import service as idx
from app.lifecycle import cascades, destruction
from app.pendings import linking
from app.transactions import events as transaction_events
from app.transactions import service as transactions


def install() -> None:
    """Connect the domains' signals to the cascades, and their hooks to the domain above that
    answers them (again is harmless)."""
    accounts.DISCONNECTED.connect(cascades.account_disconnected)
    accounts.DELETING.connect(destruction.account_deleted)
    connections.UNLINKED.connect(cascades.client_unlinked)
    companies.DELETING.connect(destruction.company_deleted)
    # What a company's answer carries of its connections.
    companies.CONNECTIONS.connect(connections.wire_of_companies)
    companies.FRESH_REDIRECT.connect(connections.company_redirect)
    idx.QUERIED.connect(cascades.idx_queried)
    # A push's links to holds, and their undoing when its lines are withdrawn.
    transactions.LINKS.connect(linking.plan_push)
    transaction_events.WITHDRAWN.connect(linking.withdrawn)
