"""A company's "today": the company's time zone, else its tenant's.

The one home of that rule. It decides "today" for the no-future-dates rule of a push, the first
IDX query's feedStartDate and a push's options, and the `timeZone` a company answers with.
`zone_of` applies it to values in hand; `ZONE_OF` is the same rule as SQL, for statements built
once that join Company to Tenant (a push reads the zone inside its one lookup statement).
"""

from __future__ import annotations

from sqlalchemy import func

from app.companies.tables import Company
from app.tenants.tables import Tenant

# A company's zone is None or a known IANA name (never ""), so coalesce is `or`.
ZONE_OF = func.coalesce(Company.time_zone, Tenant.time_zone)


def zone_of(company_zone: str | None, tenant_zone: str) -> str:
    return company_zone or tenant_zone
