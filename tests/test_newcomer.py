"""The first hour, as a newcomer lives it: the `bankfeeds` command run as a subprocess in fresh
folders, with nothing configured. A second `dev` is refused before its banner and leaves the first
whole; a command in the wrong folder refuses instead of making an empty database; help never
needs credentials; human output carries no JSON log lines."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app import instance
from tests.helpers.servers import BIN, free_port


def _newcomer_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env = {k: v for k, v in env.items() if not k.startswith("BANKFEEDS_")}
    env["XDG_STATE_HOME"] = str(tmp_path / "state")  # this test's records of running devs
    venv_bin = BIN.parent.resolve()  # a newcomer who did not activate the venv
    paths = env.get("PATH", "").split(os.pathsep)
    env["PATH"] = os.pathsep.join(p for p in paths if p and Path(p).resolve() != venv_bin)
    return env


@dataclass
class Dev:
    folder: Path
    port: int
    env: dict[str, str]
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def bankfeeds(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN), *args],
            env=self.env,
            cwd=cwd or self.folder,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def ready(self) -> dict[str, str]:
        return httpx.get(f"{self.base}/readyz", timeout=5).json()  # type: ignore[no-any-return]


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[Dev]:
    """`bankfeeds dev` started in tmp_path/project, as `python3 tasks.py run` starts it."""
    folder = tmp_path / "project"
    folder.mkdir()
    env, port, log = _newcomer_env(tmp_path), free_port(), tmp_path / "dev.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(BIN), "dev", "--port", str(port)],
            env=env,
            cwd=folder,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        running = Dev(folder, port, env, proc, log)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if running.ready().get("redis") == "ok":
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline and proc.poll() is None, log.read_text()
                time.sleep(0.2)
            yield running
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def test_a_second_dev_is_refused_and_the_first_keeps_working(dev: Dev, tmp_path: Path) -> None:
    banner = dev.log.read_text()
    assert f"{BIN.resolve()} demo" in banner, "the demo hint works without activating the venv"
    marker = dev.folder / instance.MARKER
    recorded = marker.read_text()
    sock = dev.folder / ".bankfeeds" / "redis" / "redis.sock"
    assert sock.exists()

    again = dev.bankfeeds("dev", "--port", str(free_port()))
    assert again.returncode == 1
    assert "already running here" in again.stderr and str(dev.proc.pid) in again.stderr
    assert "Bank Feeds Connector on" not in again.stdout + again.stderr, "no banner first"
    assert "Traceback" not in again.stderr and '{"ts"' not in again.stderr

    # The same data dir from another folder is the same instance: refused as well.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    same_data = dev.bankfeeds(
        "dev",
        "--port",
        str(free_port()),
        "--data-dir",
        str(dev.folder / ".bankfeeds"),
        cwd=elsewhere,
    )
    assert same_data.returncode == 1 and "already running" in same_data.stderr

    # A taken port: one plain sentence with the --port hint, nothing written or started.
    taken = dev.bankfeeds("dev", "--port", str(dev.port), cwd=elsewhere)
    assert taken.returncode == 1
    assert f"port {dev.port} on 127.0.0.1 is already in use" in taken.stderr
    assert f"--port {dev.port + 1}" in taken.stderr
    assert "Bank Feeds Connector on" not in taken.stdout + taken.stderr
    assert not (elsewhere / instance.MARKER).exists() and not (elsewhere / ".bankfeeds").exists()

    # The first instance is whole: its records, its Redis socket, its service and worker.
    assert marker.read_text() == recorded and sock.exists()
    assert dev.ready() == {"status": "ok", "database": "ok", "redis": "ok"}
    made = dev.bankfeeds("tenants", "create", "Still Works", "--json")
    assert made.returncode == 0, made.stderr
    doctor = dev.bankfeeds("doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "ok    Redis reachable" in doctor.stdout
    assert "ok    a worker is running" in doctor.stdout


def test_the_wrong_folder_refuses_and_says_where_the_instance_is(dev: Dev, tmp_path: Path) -> None:
    parent = tmp_path  # the folder above the project, where a newcomer opens a second terminal
    listed = dev.bankfeeds("tenants", "list", cwd=parent)
    assert listed.returncode == 1, listed.stdout
    assert f"looked at SQLite at {parent / '.bankfeeds' / 'bankfeeds.db'}" in listed.stderr
    assert "does not exist" in listed.stderr
    assert f"started in {dev.folder}" in listed.stderr and dev.base in listed.stderr
    assert f"--data-dir {dev.folder / '.bankfeeds'}" in listed.stderr
    assert not (parent / ".bankfeeds").exists(), "no empty database made on the side"

    made = dev.bankfeeds("tenants", "create", "Lost Lending", "--json", cwd=parent)
    assert made.returncode == 1 and made.stdout == "", "no key that the service would refuse"
    missing = tmp_path / "no" / "such" / "dir"
    for args in (("--data-dir", str(missing), "tenants", "list"), ("jobs", "run", "daily-send")):
        refused = dev.bankfeeds(*args, cwd=parent)
        assert refused.returncode == 1 and "No bankfeeds database here" in refused.stderr
    assert not missing.parent.parent.exists(), "--data-dir is not created by a refused command"

    # In the right folder: an empty list is said in words.
    empty = dev.bankfeeds("tenants", "list")
    assert empty.returncode == 0 and "no tenants" in empty.stdout

    # doctor from anywhere, given the data dir, finds dev's embedded Redis and worker.
    doctor = dev.bankfeeds("--data-dir", str(dev.folder / ".bankfeeds"), "doctor", cwd=parent)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert f"of `bankfeeds dev` at {dev.base}" in doctor.stderr
    assert "ok    a worker is running" in doctor.stdout

    # Human output carries no JSON log lines; an idle worker's ticks stay out of dev's log.
    sent = dev.bankfeeds("jobs", "run", "daily-send")
    assert sent.returncode == 0, sent.stderr
    assert "daily-send at" in sent.stdout
    assert '{"ts"' not in sent.stdout + sent.stderr
    deadline = time.monotonic() + 40  # the every-10-seconds tick has run at least once
    while "deliver_webhooks last ran" not in doctor.stdout and time.monotonic() < deadline:
        time.sleep(2)
        doctor = dev.bankfeeds("doctor")
    assert "deliver_webhooks last ran" in doctor.stdout, doctor.stdout
    assert "→ cron:deliver_webhooks" not in dev.log.read_text()
    assert "webhook deliveries: 0 succeeded" not in dev.log.read_text()


def test_a_folder_with_no_instance_and_help_without_credentials(tmp_path: Path) -> None:
    env = _newcomer_env(tmp_path)

    def bankfeeds(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN), *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
        )

    refused = bankfeeds("tenants", "list")
    assert refused.returncode == 1
    assert "No running `bankfeeds dev` is recorded" in refused.stderr
    assert "`bankfeeds migrate`" in refused.stderr
    assert not (tmp_path / ".bankfeeds").exists()

    helped = bankfeeds("sandbox", "qbo", "link", "--help")
    assert helped.returncode == 0, helped.stderr
    assert "--username" in helped.stdout and "BANKFEEDS_SANDBOX_USERNAME" in helped.stdout
    missing = bankfeeds("sandbox", "qbo", "link", "--username", "u")
    assert missing.returncode == 2 and "Missing option '--password'" in missing.stderr

    # The sign-in options after `link` reach the service (nothing listens: a plain error).
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    after = bankfeeds(
        "sandbox", "qbo", "link", "--url", url, "--username", "u", "--password", "p" * 16,
        "--partner-key", "k",
    )  # fmt: skip
    assert f"QuickBooks (sandbox) calling {url}" in after.stderr
    assert f"cannot reach {url}" in after.stderr and after.returncode == 1

    # Every option of every command names its environment variable, where it has one.
    assert "BANKFEEDS_DATA_DIR" in bankfeeds("--help").stdout
    made = bankfeeds("migrate")
    assert made.returncode == 0 and (tmp_path / ".bankfeeds" / "bankfeeds.db").exists()
    assert json.loads(bankfeeds("tenants", "list", "--json").stdout) == []


async def test_the_root_address_says_what_runs_here(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for link in ('href="/portal"', 'href="/openapi.json"', "README.md", "tenants users add"):
        assert link in page.text, link
    french = await client.get("/", headers={"Accept-Language": "fr-CA"})
    assert '<html lang="fr-CA">' in french.text and "Portail du personnel" in french.text
    assert "Connecteur de flux bancaires" in (await client.get("/?lang=fr")).text


def test_dev_logs_readable_text_on_a_terminal(tmp_path: Path) -> None:
    """On a terminal (a pty here), dev's log lines are text for people, not JSON."""
    import pty
    import select

    env, port = _newcomer_env(tmp_path), free_port()
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [str(BIN), "dev", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    seen = b""
    try:
        deadline = time.monotonic() + 60
        while b"Uvicorn running" not in seen and time.monotonic() < deadline:
            if not select.select([leader], [], [], 1)[0]:
                continue
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the process ended: its output is all there is
                break
            seen += chunk
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        os.close(leader)
    text = seen.decode(errors="replace")
    assert f"INFO    uvicorn.error: Uvicorn running on http://127.0.0.1:{port}" in text, text
    assert '{"ts"' not in text
