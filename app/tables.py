"""Every table, imported in one place for Alembic and for tests that reset data."""

from app.accounts.tables import SourceAccount
from app.companies.tables import Company
from app.connections.tables import Connection, LinkOtp
from app.tenants.tables import ApiKey, PartnerKey, Tenant

__all__ = ["ApiKey", "Company", "Connection", "LinkOtp", "PartnerKey", "SourceAccount", "Tenant"]
