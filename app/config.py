"""The one settings object, and the one source of the configuration reference:
docs/CONFIGURATION.md is generated from these fields (`python3 tasks.py docs`)."""

from __future__ import annotations

from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BANKFEEDS_", extra="ignore")

    data_dir: Path = Field(
        default=Path(".bankfeeds"),
        description="Where the embedded SQLite file and embedded Redis live (also `--data-dir`; "
        "commands run where `bankfeeds dev` runs use its data dir).",
    )
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "BANKFEEDS_DATABASE_URL"),
        description="SQLAlchemy URL. Production: `postgresql+asyncpg://user:pass@host/db` "
        "(`postgres://…` is accepted too). Unset: the SQLite file `<data dir>/bankfeeds.db`.",
    )
    redis_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("REDIS_URL", "BANKFEEDS_REDIS_URL"),
        description="`redis://host:6379/0`, `rediss://…` or `unix:///path.sock`; required by "
        "`serve` and `worker`. Unset: `bankfeeds dev` starts an embedded Redis.",
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Base URL the SMB's browser reaches us at; used in `linkUrl` and `redirect` "
        "(`bankfeeds dev`: its own address).",
    )
    max_body_bytes: int = Field(
        default=2 * 1024 * 1024, ge=1024, description="Request bodies above this (bytes) get 413."
    )
    body_timeout_seconds: float = Field(
        default=15.0,
        gt=0,
        le=600,
        description="Seconds a client has to send a request's whole body, read before any "
        "database connection or lock is taken; slower bodies get 408 (raise it for large "
        "uploads over slow links).",
    )
    otp_ttl_minutes: int = Field(default=60, ge=1, description="Lifetime of a linkUrl OTP.")
    default_time_zone: str = Field(
        default="America/Toronto",
        description="Time zone of new tenants (companies may override with timeZone).",
    )
    credentials_ttl_hours: int = Field(
        default=24,
        ge=1,
        description="Lifetime of a set of one-time credentials Intuit has not used.",
    )
    idx_throttle_after: int = Field(
        default=5,
        ge=1,
        description="Failed IDX sign-ins of a username before it must wait between tries (429).",
    )
    idx_lock_after: int = Field(
        default=10, ge=2, description="Failed IDX sign-ins of a username before it is locked."
    )
    idx_ip_lock_after: int = Field(
        default=50, ge=2, description="Failed IDX sign-ins from one address before it is locked."
    )
    idx_ip_unlisted_checks_per_minute: int = Field(
        default=10,
        ge=0,
        description="Look-ups a minute, per partner key and address past "
        "BANKFEEDS_IDX_IP_LOCK_AFTER, of usernames not marked as issued in Redis (a set made "
        "while Redis was down); any other unmarked username from there is refused (429) "
        "without touching the database.",
    )
    idx_failure_window_seconds: int = Field(
        default=900, ge=1, description="How long failed IDX sign-ins are remembered."
    )
    idx_lock_seconds: int = Field(default=900, ge=1, description="How long a lock lasts.")
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated CIDRs of proxies (load balancers) allowed to set "
        "X-Forwarded-For; the caller is the right-most address not in them. Empty: none, "
        "the connection's peer is the caller.",
    )
    idx_verify_cache_seconds: int = Field(
        default=60,
        ge=0,
        description="How long a verified credential skips the argon2 check (0: never).",
    )
    rate_limit_daily_quota: int = Field(
        default=50_000,
        ge=1,
        description="Client-API requests a tenant's production keys may make per UTC day "
        "(429 past it).",
    )
    rate_limit_daily_quota_sandbox: int = Field(
        default=10_000,
        ge=1,
        description="Client-API requests a tenant's sandbox keys may make per UTC day (a quota "
        "of its own: the sandbox never spends production's).",
    )
    rate_limit_concurrency: int = Field(
        default=10,
        ge=1,
        description="Client-API requests a tenant may have in flight at once (429 past it).",
    )
    idx_requests_per_minute: int = Field(
        default=600,
        ge=1,
        description="IDX requests per minute per username (per address before one is known).",
    )
    link_requests_per_minute: int = Field(
        default=120, ge=1, description="Link page requests per minute per address."
    )
    idempotency_ttl_hours: int = Field(
        default=24, ge=24, description="How long an Idempotency-Key's answer is kept (≥ 24 h)."
    )
    daily_send_time: str = Field(
        default="05:00",
        pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
        description="UTC time of the daily send (HH:MM), before QuickBooks' nightly pull.",
    )
    detection_time: str = Field(
        default="06:00",
        pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
        description="UTC time of the daily ten-day disconnect detection (HH:MM).",
    )
    disconnect_after_days: int = Field(
        default=10,
        ge=1,
        description="Days without an Intuit transactions query before an account is disconnected.",
    )
    stale_after_hours: int = Field(
        default=48,
        ge=1,
        description="Hours without an Intuit transactions query before a connected account's "
        "feed is stale (webhook bankFeeds.sourceAccount.stale; checked hourly).",
    )
    pending_card_days: int = Field(
        default=30,
        ge=1,
        description="Days after its authorizedDate a held pending on a card account expires "
        "(unless it has its own expiresOn).",
    )
    pending_deposit_days: int = Field(
        default=14,
        ge=1,
        description="Days after its authorizedDate a held pending on a deposit account expires "
        "(unless it has its own expiresOn).",
    )
    pending_retention_days: int = Field(
        default=90,
        ge=1,
        description="Days a posted, released or expired pending (and its links) is kept.",
    )
    pending_expiry_time: str = Field(
        default="04:30",
        pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
        description="UTC time of the daily pending expiry and purge (HH:MM).",
    )
    send_chunk_accounts: int = Field(
        default=200, ge=1, description="Accounts the daily send claims per transaction."
    )
    webhook_max_attempts: int = Field(
        default=15, ge=1, description="Delivery attempts before a webhook is given up (~a day)."
    )
    webhook_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=60,
        description="Total deadline of one webhook attempt: resolving, connecting, sending and "
        "reading the answer (a receiver that drips bytes is cut at it).",
    )
    webhook_allowed_networks: str = Field(
        default="",
        description="Comma-separated CIDRs webhooks may reach besides public addresses "
        "(e.g. 10.20.0.0/16); empty: public (global unicast) addresses only.",
    )
    webhook_dns_servers: str = Field(
        default="",
        description="Comma-separated DNS servers (ip or ip:port) webhook hosts are resolved with "
        "(c-ares via aiodns); empty: the system's (/etc/resolv.conf).",
    )
    webhook_dns_concurrency: int = Field(
        default=16, ge=1, description="Webhook host look-ups running at once per process."
    )
    webhook_dns_timeout_seconds: float = Field(
        default=3.0,
        gt=0,
        le=30,
        description="Deadline of one webhook host look-up, its wait for a place included; a "
        "registration whose look-up misses it is refused with 503 and Retry-After.",
    )
    webhook_max_endpoints: int = Field(
        default=10, ge=1, description="Webhook endpoints a tenant may register in each environment."
    )
    webhook_concurrency: int = Field(
        default=32, ge=1, description="Webhook attempts one delivery job sends at once."
    )
    webhook_tenant_concurrency: int = Field(
        default=4,
        ge=1,
        description="Webhook attempts in flight at once for one tenant in one environment.",
    )
    webhook_endpoint_concurrency: int = Field(
        default=2, ge=1, description="Webhook attempts in flight at once for one endpoint."
    )
    webhook_pause_after_hours: float = Field(
        default=6.0,
        gt=0,
        description="An endpoint whose attempts have all failed for this long is paused.",
    )
    webhook_pause_minutes: float = Field(
        default=60.0,
        gt=0,
        description="How long a paused endpoint waits before its next (probing) attempt.",
    )
    link_session_minutes: int = Field(
        default=30, ge=1, description="How long a Link page session lasts after its linkUrl."
    )
    link_credentials_per_session: int = Field(
        default=3,
        ge=1,
        description="Credential sets one Link page session may make (each new one revokes the "
        "previous one if QuickBooks has not used it); then the page says to open a new link.",
    )
    logo_max_bytes: int = Field(
        default=256 * 1024, ge=1024, description="Largest logo (PNG or JPEG) a tenant may upload."
    )
    logo_max_pixels: int = Field(
        default=1024,
        ge=16,
        le=8192,
        description="Largest width and height of a Link logo, in pixels.",
    )
    portal_session_hours: int = Field(
        default=8, ge=1, description="How long a portal sign-in lasts."
    )
    portal_max_failures: int = Field(
        default=5,
        ge=1,
        description="Wrong passwords in a row from one address before that address is locked out "
        "for that e-mail; from any addresses, before that e-mail's tries are slowed down.",
    )
    portal_lockout_minutes: int = Field(
        default=15, ge=1, description="How long a portal lock-out (address, e-mail) lasts."
    )
    portal_sign_ins_per_minute: int = Field(
        default=20, ge=1, description="Portal sign-in attempts per minute per client address."
    )
    hash_concurrency: int = Field(
        default=0,
        ge=0,
        description="argon2 hashes and checks (portal, IDX, new credentials) running at once per "
        "process, on threads of their own; 0: one per core of the machine.",
    )
    hash_queue: int = Field(
        default=32,
        ge=0,
        description="argon2 jobs that may wait for those threads; beyond, 429 at once.",
    )
    hash_wait_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How long an argon2 job waits for a thread before it is answered 429.",
    )
    redis_prefix: str = Field(
        default="bf:",
        max_length=64,
        description="Prefix of every Redis key we write (tests use one per run).",
    )
    max_api_keys: int = Field(default=10, ge=1, description="Active API keys per tenant.")
    db_schema: str | None = Field(
        default=None,
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="PostgreSQL schema for our tables (sets `search_path`; `migrate` creates it); "
        "unset: the default.",
    )
    db_pool_size: int = Field(
        default=10,
        ge=1,
        description="PostgreSQL pool size per process (plus as many overflow connections).",
    )
    db_pool_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=120,
        description="Seconds a request waits for a free database connection before it gets "
        "503 with Retry-After.",
    )
    db_processes: int = Field(
        default=4,
        ge=1,
        description="Processes sharing the database (API processes + workers + `jobs run`); "
        "doctor warns when their full pools could exceed the server's max_connections.",
    )
    db_external_pooler: bool = Field(
        default=False,
        description="PostgreSQL is reached through PgBouncer (transaction mode) or a like "
        "pooler: asyncpg's statement caches off and prepared statements uniquely named.",
    )
    redis_retry_max_seconds: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="Longest back-off between a worker's reconnection attempts to a lost Redis.",
    )
    log_level: str = Field(
        default="INFO", description="Logging level; logs are JSON lines on stderr."
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        min_length=16,
        description="If set, `/metrics` answers only `Authorization: Bearer <this token>` (401 "
        "otherwise). Unset, `/metrics` is open: expose it only to monitoring.",
    )

    # Retention defaults (docs/COMPLIANCE.md); a tenant overrides them (API, portal).
    retention_sent_lines_days: int = Field(
        default=400,
        ge=1,
        le=36500,
        description="Days sent lines are kept after their delivery to QuickBooks (an account's "
        "latest line and undelivered lines are always kept).",
    )
    retention_pull_log_days: int = Field(
        default=90, ge=1, le=36500, description="Days the IDX pull log is kept."
    )
    retention_push_operations_days: int = Field(
        default=90, ge=1, le=36500, description="Days finished push operations are kept."
    )
    retention_webhooks_days: int = Field(
        default=30,
        ge=1,
        le=36500,
        description="Days webhook payloads and attempts are kept after their delivery ended.",
    )
    retention_audit_days: int = Field(
        default=2557,
        ge=1,
        le=36500,
        description="Days audit entries (re-serves, access log, destruction log) are kept: "
        "seven years by default.",
    )

    secret_keys: SecretStr | None = Field(
        default=None,
        description="Comma-separated Fernet keys (newest first) that encrypt webhook signing "
        "secrets and account numbers at rest; the newest encrypts, all decrypt (`bankfeeds secrets "
        "rotate` re-seals under the newest). Unset: stored unencrypted.",
    )

    @field_validator("secret_keys")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            from cryptography.fernet import Fernet

            for number, key in enumerate(_split(value.get_secret_value()), 1):
                try:
                    Fernet(key)
                except ValueError as exc:
                    raise ValueError(
                        f"key {number} of BANKFEEDS_SECRET_KEYS is not a Fernet key "
                        "(make one with `python -c 'from cryptography.fernet "
                        "import Fernet; print(Fernet.generate_key().decode())'`)"
                    ) from exc
        return value

    @property
    def secret_key_list(self) -> list[str]:
        return _split(self.secret_keys.get_secret_value()) if self.secret_keys else []

    @field_validator("default_time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    @field_validator("webhook_allowed_networks", "trusted_proxies")
    @classmethod
    def _cidrs(cls, value: str) -> str:
        for part in filter(None, (p.strip() for p in value.split(","))):
            try:
                ip_network(part, strict=False)
            except ValueError as exc:
                raise ValueError(f"{part!r} is not a CIDR network (e.g. 10.0.0.0/8)") from exc
        return value

    @property
    def webhook_dns_server_list(self) -> tuple[str, ...]:
        return tuple(s.strip() for s in self.webhook_dns_servers.split(",") if s.strip())

    @property
    def webhook_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        """The parsed BANKFEEDS_WEBHOOK_ALLOWED_NETWORKS."""
        return _networks(self.webhook_allowed_networks)

    @property
    def trusted_proxy_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        return _networks(self.trusted_proxies)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            url = self.database_url
            # Accept the plain forms operators copy from their provider.
            for prefix in ("postgres://", "postgresql://"):
                if url.startswith(prefix):
                    return "postgresql+asyncpg://" + url[len(prefix) :]
            return url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'bankfeeds.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")


def _split(value: str) -> list[str]:
    return [p.strip() for p in value.split(",") if p.strip()]


@lru_cache(maxsize=32)
def _networks(value: str) -> tuple[IPv4Network | IPv6Network, ...]:
    return tuple(ip_network(p.strip(), strict=False) for p in value.split(",") if p.strip())


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
