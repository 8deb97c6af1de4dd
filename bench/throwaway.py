"""Servers of our own for the fault tests and the soak: a throwaway PostgreSQL cluster and a
throwaway redis-server, each in a temporary directory on a free port, so stopping or killing one
disturbs no other run. The bench owns them (`python -m bench soak` starts one); the tests import
them from here, never the other way round (tests/test_layout.py checks that).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench.harness import free_port

PG_BINS = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


class Unavailable(RuntimeError):
    """A server binary this machine lacks (the tests skip, or fail in CI)."""


class ThrowawayPostgres:
    """A PostgreSQL cluster of our own, in a temporary directory on a free port, so stopping it
    disturbs no other test run. As root, the server runs as the `postgres` user."""

    def __init__(self) -> None:
        if not PG_BINS:
            raise Unavailable("no PostgreSQL server binaries under /usr/lib/postgresql")
        self.bin = Path(PG_BINS[-1])
        self.root = Path(tempfile.mkdtemp(prefix="bankfeeds-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            shutil.chown(self.root, self.user)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync")

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [str(self.bin / tool), *args], check=True, capture_output=True, user=self.user
        )

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c synchronous_commit=on"
        )
        log = str(self.root / "log")
        self._run("pg_ctl", "-D", str(self.data), "-l", log, "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


class ThrowawayRedis:
    """A redis-server of our own on a free TCP port (never the shared 6379), appending every
    write to a file so that queued jobs survive its restart, as a production Redis's would."""

    def __init__(self, root: Path, *, persist: bool = True) -> None:
        from app.embedded_redis import binary

        self.persist = persist
        self.binary = shutil.which("redis-server") or binary()
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        self.process = subprocess.Popen(
            [
                self.binary,
                *("--port", str(self.port), "--bind", "127.0.0.1", "--save", ""),
                *("--appendonly", "yes" if self.persist else "no", "--appendfsync", "always"),
                *("--dir", str(self.root), "--logfile", str(self.root / "redis.log")),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis(port=self.port, socket_connect_timeout=0.5).ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
