"""The worker rides out Redis outages of any length instead of exiting.

arq's worker raises out of its polling loop at the first Redis error and retries only a few
times at start-up. `ResilientWorker` keeps the process up: it waits for Redis with capped
exponential back-off and full jitter, logs one line per change of state (lost, retrying, back),
then carries on where it was. Cron ticks missed during the outage are enqueued once it is back
(arq computes the next run only after a successful enqueue), and every job derives its work from
the database, so nothing is lost with Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from typing import Any

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.worker import Worker
from redis.exceptions import RedisError

log = logging.getLogger("app.worker")

# What a Redis outage raises, through redis-py or the sockets beneath it.
OUTAGE: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)


def backoff(attempt: int, first: float, cap: float) -> float:
    """Seconds to wait before reconnection attempt `attempt` (1, 2, ...): full jitter over a
    doubling window, so a fleet of workers does not reconnect in step."""
    return random.uniform(0, min(cap, first * 2 ** (attempt - 1)))  # noqa: S311


class ResilientWorker(Worker):
    """arq's Worker, but Redis being away is a state to wait out, never a reason to exit."""

    def __init__(self, *args: Any, retry_first: float = 0.5, retry_cap: float = 10.0, **kw: Any):
        super().__init__(*args, **kw)
        self.retry_first = retry_first
        self.retry_cap = retry_cap
        self.redis_up = True
        self.outages = 0
        startup, self._started = self.on_startup, False

        async def once(ctx: dict[str, Any]) -> None:
            if startup is not None and not self._started:
                await startup(ctx)
            self._started = True

        self.on_startup = once

    async def main(self) -> None:
        while True:
            if self._pool is None:
                self._pool = await self._connect()
            try:
                await super().main()
                return
            except OUTAGE as exc:  # between connecting and polling (arq's start-up lines)
                await self._wait_for_redis(exc)

    async def _connect(self) -> ArqRedis:
        """The first connection, however long Redis takes to be there."""
        settings = self.redis_settings or RedisSettings()
        attempt = 0
        down_since = time.monotonic()
        while True:
            try:
                pool = await create_pool(
                    settings,
                    retry=settings.conn_retries,  # no retries of arq's own: ours below
                    job_deserializer=self.job_deserializer,
                    job_serializer=self.job_serializer,
                    default_queue_name=self.queue_name,
                    expires_extra_ms=self.expires_extra_ms,
                )
            except OUTAGE as exc:
                attempt += 1
                if attempt == 1:
                    self._state("lost", exc, attempts=0)
                elif attempt == 2:
                    self._state("retrying", exc, attempts=1)
                await asyncio.sleep(backoff(attempt, self.retry_first, self.retry_cap))
                continue
            if attempt:
                self._state("back", None, attempts=attempt, down=time.monotonic() - down_since)
            return pool

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
        except OUTAGE as exc:
            await self._wait_for_redis(exc)

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        # arq counts a job as started before it claims the job in Redis; if the claim fails the
        # count and the semaphore slot would leak, and after enough outages no job would start.
        for job_id in job_ids:
            try:
                await super().start_jobs([job_id])
            except OUTAGE:
                self._release_sem_dec_counter_on_complete()
                raise

    async def _wait_for_redis(self, exc: BaseException) -> None:
        self.redis_up = False
        self.outages += 1
        self._state("lost", exc, attempts=0)
        down_since = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            await asyncio.sleep(backoff(attempt, self.retry_first, self.retry_cap))
            try:
                await self.pool.ping()
            except OUTAGE as again:
                if attempt == 1:
                    self._state("retrying", again, attempts=attempt)
                continue
            break
        self.redis_up = True
        self._state("back", None, attempts=attempt, down=time.monotonic() - down_since)

    def _state(
        self, state: str, exc: BaseException | None, *, attempts: int, down: float | None = None
    ) -> None:
        fields: dict[str, Any] = {"redis": state, "attempts": attempts}
        if exc is not None:
            fields["error"] = type(exc).__name__
        if state == "retrying":
            fields["backoffCapSeconds"] = self.retry_cap
        if down is not None:
            fields["downSeconds"] = round(down, 1)
        message = {
            "lost": "Redis connection lost (%s); jobs wait, the worker stays up",
            "retrying": "Redis still unreachable (%s); reconnecting with back-off and jitter",
            "back": "Redis reachable again%s; polling, cron and queued jobs resume",
        }[state]
        detail = f" after {down:.1f} s" if down is not None else type(exc).__name__
        level = logging.INFO if state == "back" else logging.WARNING
        log.log(level, message, detail, extra={"fields": fields})

    async def close(self) -> None:
        """Shut down cleanly even with Redis away: the database and HTTP client still close."""
        try:
            await super().close()
        except OUTAGE:
            if self.on_shutdown:
                await self.on_shutdown(self.ctx)
            with contextlib.suppress(*OUTAGE):
                await self.pool.close(close_connection_pool=True)
            self._pool = None
