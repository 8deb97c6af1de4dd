"""kit/scope.py and kit/money.py on their own: the tenant/environment filter every repository
applies, and the text of an amount (no database)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import postgresql

from app.companies.tables import Company
from app.kit import scope
from app.kit.money import amount_text
from app.kit.principal import Principal

TENANT = uuid.UUID("00000000-0000-0000-0000-0000000000aa")
CALLER = Principal(TENANT, "sandbox")


def sql(stmt: object) -> str:
    return str(stmt.compile(dialect=postgresql.dialect()))  # type: ignore[attr-defined]


def test_the_filter_by_value_names_the_callers_tenant_and_environment() -> None:
    stmt = select(Company.id).where(*scope.of_caller(Company, CALLER))
    compiled = stmt.compile(dialect=postgresql.dialect())
    assert "companies.tenant_id = " in str(compiled) and "companies.environment = " in str(compiled)
    assert set(compiled.params.values()) == {TENANT, "sandbox"}


def test_the_bound_filter_takes_its_values_from_params() -> None:
    stmt = select(Company.id).where(*scope.bound(Company))
    assert "companies.tenant_id = %(tenant_id)s" in sql(stmt)
    assert "companies.environment = %(environment)s" in sql(stmt)
    company = uuid.uuid4()
    assert scope.params(CALLER, company_id=company) == {
        "company_id": company,
        "tenant_id": TENANT,
        "environment": "sandbox",
    }


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, None),
        (Decimal("-12.5"), "-12.50"),
        (Decimal("3"), "3.00"),
        (Decimal("-0.001"), "0.00"),
    ],
)
def test_amount_text(value: Decimal | None, text: str | None) -> None:
    assert amount_text(value) == text
