"""The one list of the worker's jobs, read by the worker, `bankfeeds jobs run` and doctor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class JobSpec:
    name: str  # the function's name: arq's job name, job_runs.job, the metrics' label
    max_age: timedelta  # how old its last run may be before doctor fails (schedule + slack)
    when: str  # its schedule, for docs/WORKER.md (generated: app/devtools/doc_reference.py)
    what: str  # what it does, for the same table

    @property
    def command(self) -> str:
        """Its name for `bankfeeds jobs run`."""
        return self.name.replace("_", "-")


# The daily jobs run once a day (the retention purge too), webhooks every 10 s, the purge of
# expired records and stale detection hourly.
JOBS = (
    JobSpec(
        "daily_send",
        timedelta(hours=25),
        "`BANKFEEDS_DAILY_SEND_TIME` (05:00 UTC)",
        "every pending transaction of every **connected** account is sent: it becomes visible to "
        "Intuit with `modifiedDate` = the send time, and its push operation becomes `Success` "
        "(`completedOnUtc`, `changes`); `bankTransactions.write.successful` is announced",
    ),
    JobSpec(
        "detect_disconnects",
        timedelta(hours=25),
        "`BANKFEEDS_DETECTION_TIME` (06:00 UTC)",
        "connected accounts Intuit has not queried for `BANKFEEDS_DISCONNECT_AFTER_DAYS` (10) "
        "days become `disconnected` (`bankFeeds.sourceAccount.disconnected`); their pending "
        "pushes become `Failed` (`bankTransactions.write.unsuccessful`); then `Linked` "
        "connections whose accounts (at least one) are all disconnected become `Unlinked` "
        "(`connection.disconnected`)",
    ),
    JobSpec(
        "deliver_webhooks",
        timedelta(minutes=5),
        "every 10 seconds",
        "sends due webhook deliveries (an idle run logs at DEBUG only)",
    ),
    JobSpec(
        "purge_expired",
        timedelta(hours=2),
        "hourly",
        "forgets Link OTPs and sessions, unusable credentials and idempotency keys that expired",
    ),
    JobSpec(
        "detect_stale",
        timedelta(hours=2),
        "hourly (minute 23)",
        "connected accounts QuickBooks has not pulled for `BANKFEEDS_STALE_AFTER_HOURS` (48) "
        "become stale, each announced once (`bankFeeds.sourceAccount.stale`); the next pull "
        "announces `bankFeeds.sourceAccount.fresh` ([docs/FEED_HEALTH.md](FEED_HEALTH.md))",
    ),
    JobSpec(
        "purge_retention",
        timedelta(hours=25),
        "daily (04:41 UTC)",
        "applies every tenant's retention policy in bounded batches and writes the destruction "
        "log ([docs/COMPLIANCE.md](COMPLIANCE.md#retention-and-destruction))",
    ),
    JobSpec(
        "expire_pendings",
        timedelta(hours=25),
        "`BANKFEEDS_PENDING_EXPIRY_TIME` (04:30 UTC)",
        "held pendings past their `expiresOn`, else 30 days (cards) or 14 (deposit accounts) "
        "after authorization, expire (`bankTransactions.pending.expired`); pendings that ended "
        "90 days ago go with their links ([docs/PENDING.md](PENDING.md))",
    ),
    JobSpec(
        "certify_balances",
        timedelta(hours=2),
        "hourly (minute 41)",
        "balance certificates of every account with something new (sends, Update and re-serves "
        "certify at once; this catches the rest), and one "
        "`bankFeeds.sourceAccount.balanceCertified` digest a day per connection "
        "([docs/CERTIFICATES.md](CERTIFICATES.md))",
    ),
)
COMMANDS = tuple(job.command for job in JOBS)
