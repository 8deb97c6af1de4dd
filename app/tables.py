"""Every table, imported in one place for Alembic and for tests that reset data."""

from app.access.tables import AccessEntry
from app.accounts.tables import SourceAccount
from app.certificates.tables import (
    BalanceCertificate,
    BalanceDigest,
    CertificateSettings,
    CertificateState,
    DailyBalance,
    DailyBalanceChange,
)
from app.companies.tables import Company
from app.connections.tables import Connection, LinkOtp
from app.credentials.tables import Credential
from app.idx.tables import IdxPull, Reserve
from app.jobruns.tables import JobRun
from app.kit.idempotency.tables import IdempotencyKey
from app.link.tables import LinkSession, LinkSettings
from app.pendings.tables import (
    PendingLink,
    PendingSettings,
    PendingSuggestion,
    PendingTransaction,
    TransactionReversal,
)
from app.portal.tables import PortalSession, PortalUser
from app.retention.tables import DestructionEntry, RetentionPolicy
from app.tenants.tables import ApiKey, PartnerKey, Tenant
from app.transactions.tables import BankTransaction, PushOperation, PushRejection
from app.webhooks.tables import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent

__all__ = [
    "AccessEntry",
    "ApiKey",
    "BalanceCertificate",
    "BalanceDigest",
    "BankTransaction",
    "CertificateSettings",
    "CertificateState",
    "Company",
    "Connection",
    "Credential",
    "DailyBalance",
    "DailyBalanceChange",
    "DestructionEntry",
    "IdempotencyKey",
    "IdxPull",
    "JobRun",
    "LinkOtp",
    "LinkSession",
    "LinkSettings",
    "PartnerKey",
    "PendingLink",
    "PendingSettings",
    "PendingSuggestion",
    "PendingTransaction",
    "PortalSession",
    "PortalUser",
    "PushOperation",
    "PushRejection",
    "Reserve",
    "RetentionPolicy",
    "SourceAccount",
    "Tenant",
    "TransactionReversal",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
]
