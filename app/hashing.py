"""argon2 as a budgeted resource: every hash and check (portal sign-in, IDX sign-in, new
credentials, new portal users) runs on this process's own pool of `hash_concurrency` threads
(default: one per core), never on asyncio's shared default executor (where it would starve DNS
look-ups and whatever else uses it). At most `hash_queue` jobs wait for a thread; beyond that a
job is refused at once, and one that waits longer than `hash_wait_seconds` is refused too: 429
with Retry-After, never a queue without end. Limits that can refuse a caller are decided before
a job is handed here, so a refused caller costs no hash."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar, cast

from app.kit.errors import TooManyRequests
from app.metrics import HASH_REFUSED

log = logging.getLogger("app.hashing")
T = TypeVar("T")
BUSY = "Too many password checks at once; retry in a moment."
FIRST_WAIT = 6


class Pool:
    def __init__(self, threads: int = 0, queue: int = 32, wait_seconds: float = 5.0) -> None:
        self.threads = threads or os.cpu_count() or 1
        self.queue = queue
        self.wait_seconds = wait_seconds
        self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="argon2")
        self.admitted = 0  # running or waiting; the event loop is the only writer

    async def run(self, fn: Callable[..., T], *args: object, first: bool = False) -> T:
        """fn(*args) on a pool thread, or TooManyRequests when the pool and its queue are full
        (at once) or no thread frees up in time (a job still waiting is dropped, not run).
        `first` (a caller with no recent failure, one job per address at most: the caller sees
        to it) is admitted past a full queue and waits up to FIRST_WAIT times longer, so a flood
        of others never refuses it."""
        if not first and self.admitted >= self.threads + self.queue:
            HASH_REFUSED.inc()
            raise TooManyRequests(BUSY, retry_after=1)
        self.admitted += 1
        ticket = _Ticket()
        try:
            job = asyncio.get_running_loop().run_in_executor(self._executor, ticket.call, fn, args)
            try:
                wait = self.wait_seconds * (FIRST_WAIT if first else 1)
                done, _ = await asyncio.wait({job}, timeout=wait)
            except asyncio.CancelledError:
                ticket.drop()  # the caller went away: a job still queued never runs
                raise
            if not done and ticket.drop():
                HASH_REFUSED.inc()
                raise TooManyRequests(BUSY, retry_after=1)
            # Done, or running (a thread cannot be interrupted: it finishes); never dropped here.
            return cast(T, await job)
        finally:
            self.admitted -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class _Ticket:
    """Whether a queued job still runs: `drop` before its thread picks it up and it never does."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = "queued"

    def drop(self) -> bool:
        with self._lock:
            if self._state == "queued":
                self._state = "dropped"
            return self._state == "dropped"

    def call(self, fn: Callable[..., T], args: tuple[object, ...]) -> T | None:
        with self._lock:
            if self._state == "dropped":
                return None
            self._state = "running"
        return fn(*args)


_pool = Pool()


def configure(threads: int, queue: int, wait_seconds: float) -> Callable[[], None]:
    """The process's pool for these settings (rebuilt only when they change). Returns what
    brings the previous settings back (an app calls it when it stops)."""
    before = (_pool.threads, _pool.queue, _pool.wait_seconds)
    _use(threads or os.cpu_count() or 1, queue, wait_seconds)
    return lambda: _use(*before)


def _use(threads: int, queue: int, wait_seconds: float) -> None:
    global _pool
    if (_pool.threads, _pool.queue, _pool.wait_seconds) != (threads, queue, wait_seconds):
        old, _pool = _pool, Pool(threads, queue, wait_seconds)
        old.close()


async def run(fn: Callable[..., T], *args: object, first: bool = False) -> T:
    return await _pool.run(fn, *args, first=first)
