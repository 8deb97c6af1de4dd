"""One job registry: the worker, `bankfeeds jobs run` and doctor name the same jobs."""

from __future__ import annotations

import click

from app import doctor, worker
from app.cli.jobs import jobs_run
from app.jobruns.registry import COMMANDS, JOBS


def test_the_worker_doctor_and_cli_share_the_registry() -> None:
    names = [job.name for job in JOBS]
    assert [f.__name__ for f in worker.WorkerSettings["functions"]] == names  # arq's CLI
    built = worker.worker_settings(worker.get_settings())
    assert [f.__name__ for f in built["functions"]] == names
    assert [c.coroutine.__name__ for c in worker.cron_jobs(worker.get_settings())] == names
    assert list(worker.JOBS) == list(COMMANDS) == [n.replace("_", "-") for n in names]
    assert list(doctor.JOB_NAMES) == names
    (argument,) = [p for p in jobs_run.params if p.name == "name"]
    assert isinstance(argument.type, click.Choice)
    assert list(argument.type.choices) == list(COMMANDS)
