"""The one list of the worker's jobs, read by the worker, `bankfeeds jobs run` and doctor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class JobSpec:
    name: str  # the function's name: arq's job name, job_runs.job, the metrics' label
    max_age: timedelta  # how old its last run may be before doctor fails (schedule + slack)

    @property
    def command(self) -> str:
        """Its name for `bankfeeds jobs run`."""
        return self.name.replace("_", "-")


# The daily jobs run once a day, webhooks every 10 s, the purge, stale detection and the
# balance certification hourly.
JOBS = (
    JobSpec("daily_send", timedelta(hours=25)),
    JobSpec("detect_disconnects", timedelta(hours=25)),
    JobSpec("deliver_webhooks", timedelta(minutes=5)),
    JobSpec("purge_expired", timedelta(hours=2)),
    JobSpec("detect_stale", timedelta(hours=2)),
    JobSpec("certify_balances", timedelta(hours=2)),
)
COMMANDS = tuple(job.command for job in JOBS)
