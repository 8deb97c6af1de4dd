"""The one registry of what every table keeps, for how long, and what deleting a company does to
it. `tests/test_retention_rules.py` fails when a table of the metadata has no entry here, when a
"cascade" table has no ON DELETE CASCADE path to a company, or when a policy or a scrub has no
code behind it: a new table is classified by adding one entry (and, if it needs one, its purge or
scrub function, keyed by the table's name)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Policy:
    # The key in RetentionPolicy's columns (`<name>_days`), in the wire shape, and in the
    # setting that holds its default (BANKFEEDS_RETENTION_<NAME>_DAYS, app/config.py).
    name: str
    what: str


# The defaults are settings (SPEC §5 "Retention"); a tenant overrides any of them (API, portal).
POLICIES = {
    p.name: p
    for p in (
        Policy("sent_lines", "sent lines, counted from their delivery to QuickBooks"),
        Policy("pull_log", "the IDX pull log"),
        Policy("push_operations", "finished push operations"),
        Policy("webhooks", "webhook payloads and attempts, after their delivery ended"),
        Policy("audit", "audit entries: re-serves, access log, destruction log"),
    )
}
MIN_DAYS, MAX_DAYS = 1, 36500


@dataclass(frozen=True)
class TableRule:
    # How long rows live: "policy" (purge-retention applies `policy`), "expiry" (purge-expired
    # removes them once expired), "owner" (as long as what owns them: the tenant, its company or
    # account, deleted with it), "latest" (one row per job, overwritten).
    keep: str
    # What deleting a company (or an account) does: "cascade" (an ON DELETE CASCADE path to
    # companies), "scrub" (a function removes the rows that name it), "none" (the table holds
    # nothing of a company), "kept" (keeps the company's id only, for the audit trail).
    on_delete: str
    why: str
    policy: str | None = None


RULES: dict[str, TableRule] = {
    "tenants": TableRule("owner", "none", "the client app itself"),
    "api_keys": TableRule("owner", "none", "hashes of the tenant's API keys"),
    "partner_keys": TableRule("owner", "none", "hashes of Intuit's partner keys"),
    "link_settings": TableRule("owner", "none", "the tenant's Link branding"),
    "portal_users": TableRule("owner", "none", "the tenant's staff (email, password hash)"),
    "portal_sessions": TableRule("expiry", "none", "signed-in browsers; no company reference"),
    "retention_policies": TableRule("owner", "none", "the tenant's overrides"),
    "job_runs": TableRule("latest", "none", "each job's latest run: counts only"),
    "companies": TableRule("owner", "cascade", "the SMB: name, description, tags"),
    "connections": TableRule("owner", "cascade", "the company's QuickBooks links"),
    "company_link_otps": TableRule("expiry", "cascade", "hashes of one-time Link passwords"),
    "link_otps": TableRule("expiry", "cascade", "hashes of one-time Link passwords"),
    "link_sessions": TableRule("expiry", "cascade", "Link page browser sessions"),
    "credentials": TableRule("expiry", "cascade", "IDX usernames and password hashes"),
    "source_accounts": TableRule("owner", "cascade", "bank accounts: name, sealed number"),
    "bank_transactions": TableRule(
        "policy", "cascade", "lines: description, amount", policy="sent_lines"
    ),
    "sent_batches": TableRule("policy", "cascade", "counts per send", policy="sent_lines"),
    "push_operations": TableRule(
        "policy", "cascade", "push outcomes and errors", policy="push_operations"
    ),
    "push_rejections": TableRule("expiry", "cascade", "30-day notes of refused pushes"),
    "idx_pulls": TableRule("policy", "cascade", "what QuickBooks fetched", policy="pull_log"),
    "reserves": TableRule("policy", "cascade", "re-serve audit (actor)", policy="audit"),
    "idempotency_keys": TableRule("expiry", "scrub", "first answers, replayed to retries"),
    "webhook_endpoints": TableRule("owner", "none", "the tenant's URLs and sealed secrets"),
    "webhook_events": TableRule(
        "policy", "scrub", "payloads naming companies and accounts", policy="webhooks"
    ),
    "webhook_deliveries": TableRule(
        "policy", "cascade", "delivery state, goes with its event", policy="webhooks"
    ),
    "webhook_attempts": TableRule(
        "policy", "cascade", "attempt outcomes, go with their event", policy="webhooks"
    ),
    # Card holds (app/pendings): terminal ones go BANKFEEDS_PENDING_RETENTION_DAYS after they
    # ended (expire-pendings), with their links and suggestions; held ones are still needed.
    "pending_transactions": TableRule("expiry", "cascade", "card holds: description, amount"),
    "pending_links": TableRule("expiry", "cascade", "which cleared line settled which hold"),
    "pending_suggestions": TableRule("expiry", "cascade", "possible hold matches"),
    "pending_settings": TableRule("owner", "none", "the tenant's matching mode"),
    "transaction_reversals": TableRule(
        "owner", "cascade", "reversal audit: original and offsetting line ids"
    ),
    # Balance certificates (app/certificates): kept with the account (SPEC §5 "Retention"), so an
    # auditor can verify the chain for as long as the account exists.
    "balance_certificates": TableRule("owner", "cascade", "daily certificates: sums, digests"),
    "certificate_states": TableRule("owner", "cascade", "each account's running chain state"),
    "daily_balances": TableRule("owner", "cascade", "the bank's end-of-day balances"),
    "daily_balance_changes": TableRule("owner", "cascade", "audit of replaced day balances"),
    "balance_digests": TableRule("latest", "cascade", "the last daily digest per connection"),
    "certificate_settings": TableRule("owner", "none", "the tenant's strict balance mode"),
    "access_log": TableRule(
        "policy", "kept", "who read a company's data (company id only)", policy="audit"
    ),
    "destruction_log": TableRule(
        "policy", "none", "counts and dates of destroyed rows", policy="audit"
    ),
}
