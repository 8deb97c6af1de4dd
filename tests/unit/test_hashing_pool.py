"""The hashing pool is the process's: an app with limits of its own (a test's, inside the life
of the suite's app) gives the pool back as it found it when it stops. Before, the small pool
stayed, and QuickBooks' four simultaneous first sign-ins on the suite's app got a 429."""

from __future__ import annotations

import asyncio
import threading

from app import hashing
from app.kit.errors import TooManyRequests


def _slow(release: threading.Event) -> str:
    release.wait(5)
    return "done"


async def _at_once(n: int) -> list[str | BaseException]:
    release = threading.Event()
    jobs = [asyncio.create_task(hashing.run(_slow, release)) for _ in range(n)]
    await asyncio.sleep(0.05)  # every job admitted or refused before any finishes
    release.set()
    return await asyncio.gather(*jobs, return_exceptions=True)


async def test_an_app_with_limits_of_its_own_gives_the_pool_back() -> None:
    outer = hashing.configure(2, 32, 5.0)
    try:
        inner = hashing.configure(1, 0, 5.0)  # one thread, no queue: a second job is refused
        answers = await _at_once(2)
        assert answers.count("done") == 1
        assert sum(isinstance(a, TooManyRequests) for a in answers) == 1
        inner()
        assert await _at_once(4) == ["done"] * 4  # the outer limits again
    finally:
        outer()
