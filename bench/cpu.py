"""Where a request's CPU goes: user + system seconds from `/proc/<pid>/stat` of every process
that serves it (the API and its uvicorn workers, every `postgres` process, the Redis server),
sampled right before and right after a measured window, nothing in between.

A process born during the window counts whole (it had no CPU before it); one that exits during
the window loses what it spent in it (`/proc` forgets it): a backend closing mid-run would be
under-counted, so the scenarios warm their pools up first. PostgreSQL's own background processes
(WAL writer, checkpointer, ...) are in "every postgres process"; so is any other client's backend
on a shared machine, which is why the API's own backends are also counted apart (matched by the
API processes' TCP sockets to the database port and `pg_stat_activity.client_port`)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

TICK = os.sysconf("SC_CLK_TCK")

Sample = dict[str, dict[int, float]]  # group -> pid -> CPU seconds so far


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process there is now."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    found[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except OSError:  # gone meanwhile
                pass
    return found


def process_tree(roots: Iterable[int]) -> list[int]:
    """The processes and all their descendants (uvicorn's `--workers` children, their
    multiprocessing helpers)."""
    parents = _parents()
    tree = [pid for pid in roots if pid in parents]
    seen = set(tree)
    for pid in tree:  # grows while walked: breadth first
        for child, parent in parents.items():
            if parent == pid and child not in seen:
                seen.add(child)
                tree.append(child)
    return tree


def named(comm: str) -> list[int]:
    """Every process whose command name (`/proc/<pid>/comm`) is `comm`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() == comm:
                        found.append(int(entry))
            except OSError:
                pass
    return found


def sample(groups: dict[str, list[int]]) -> Sample:
    """CPU seconds so far of each process of each group (a process gone meanwhile is left out)."""
    out: Sample = {}
    for name, pids in groups.items():
        out[name] = {}
        for pid in pids:
            with contextlib.suppress(OSError, IndexError):  # gone meanwhile
                out[name][pid] = cpu_seconds(pid)
    return out


def spent(
    before: Sample, after: Sample, only: dict[str, set[int]] | None = None
) -> dict[str, float]:
    """CPU seconds each group spent between two samples (processes in `after`; one born since
    `before` counts whole). `only` narrows a group to some of its processes."""
    out = {}
    for name, now in after.items():
        keep = (only or {}).get(name)
        out[name] = sum(
            cpu - before.get(name, {}).get(pid, 0.0)
            for pid, cpu in now.items()
            if keep is None or pid in keep
        )
    return out


def tcp_peer_ports(pids: Iterable[int], remote_port: int) -> set[int]:
    """Local ports of the TCP connections the processes hold to `remote_port` (their sockets'
    inodes, from /proc/<pid>/fd, looked up in /proc/net/tcp and tcp6)."""
    inodes = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            pass
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            if inode in inodes and int(remote.rsplit(":", 1)[1], 16) == remote_port:
                ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


def redis_pid(url: str) -> int | None:
    """The Redis server's process id (its INFO), if that process is on this machine."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        info: dict[str, Any] = client.info("server")  # type: ignore[assignment]
        pid = int(info["process_id"])
    finally:
        client.close()
    try:
        with open(f"/proc/{pid}/comm") as f:
            return pid if f.read().strip().startswith("redis") else None
    except OSError:
        return None


@dataclass
class Meter:
    """Samples the API processes (and their children), every `postgres` process and the Redis
    server of one bench server. `database` is the PostgreSQL URL the API uses."""

    api_roots: list[int]
    database: str
    redis: int | None

    @classmethod
    def of(cls, api_roots: list[int], database: str, redis_url: str) -> Meter:
        return cls(list(api_roots), database, redis_pid(redis_url))

    def groups(self) -> dict[str, list[int]]:
        return {
            "api": process_tree(self.api_roots),
            "postgres": named("postgres"),
            "redis": [self.redis] if self.redis else [],
        }

    def sample(self) -> Sample:
        return sample(self.groups())

    def own_backends(self) -> set[int]:
        """The PostgreSQL backends serving the API processes' connections now."""
        import asyncio

        import asyncpg

        port = urlsplit(self.database).port or 5432
        ports = tcp_peer_ports(process_tree(self.api_roots), port)

        async def query() -> set[int]:
            dsn = self.database.replace("postgresql+asyncpg://", "postgresql://")
            conn = await asyncpg.connect(dsn)
            try:
                rows = await conn.fetch(
                    "SELECT pid FROM pg_stat_activity WHERE client_port = ANY($1::int[])",
                    sorted(ports),
                )
                return {r["pid"] for r in rows}
            finally:
                await conn.close()

        return asyncio.run(query()) if ports else set()
