"""The README's walkthrough, run from the README's own text: its shell blocks, in order, against a
fresh `bankfeeds dev` on the embedded defaults (what `python3 tasks.py run` starts), in the
directory dev runs in. Only one line changes: the `.venv/bin/activate` line (the test puts this
.venv's bin first on PATH instead). The port is a free one, and BASE reads it from dev's record."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.helpers.builders import created_tenant
from tests.helpers.logs import remember_credentials, scan_server_log
from tests.helpers.servers import BIN, free_port

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def walkthrough() -> list[str]:
    """The ```sh blocks between the walkthrough markers, as written."""
    text = README.read_text()
    section = text.split("<!-- walkthrough:start -->", 1)[1].split("<!-- walkthrough:end -->", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.S)


def test_the_readme_is_short_and_self_contained() -> None:
    assert len(README.read_bytes()) <= 12 * 1024
    assert len(walkthrough()) >= 5
    for target in re.findall(r"\]\(([^)#]+)\)", README.read_text()):
        if not target.startswith("http"):
            assert (ROOT / target).exists(), f"README links to a missing {target}"


def test_the_walkthrough_runs_as_printed(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env = {k: v for k, v in env.items() if not k.startswith("BANKFEEDS_")}
    env["XDG_STATE_HOME"] = str(tmp_path / "state")  # dev's record of itself stays here
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    script = "set -euo pipefail\n" + "\n".join(walkthrough())
    activate = ". .venv/bin/activate"
    assert activate in script and "BASE=$(field '[\"url\"]' < .bankfeeds-dev.json)" in script
    script = "\n".join(line for line in script.splitlines() if not line.startswith(activate))

    log_path = tmp_path / "dev.log"
    with log_path.open("wb") as log:
        dev = subprocess.Popen(
            [str(BIN), "dev", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline and dev.poll() is None, log_path.read_text()
                time.sleep(0.2)
            ran = subprocess.run(
                ["bash", "-c", script],
                env=env,
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,  # one stream, in the order a terminal shows it
                text=True,
                timeout=300,
            )
        finally:
            dev.terminate()
            dev.wait(timeout=15)
    created_tenant((tmp_path / "tenant.json").read_text())
    pair = json.loads((tmp_path / "credentials.json").read_text())
    remember_credentials(pair["username"], pair["password"])
    scan_server_log(log_path)  # no key, credential or OTP in dev's own log

    output = ran.stdout
    assert ran.returncode == 0, output
    promised = [
        "/start?otp=",  # step 3: the linkUrl, with its one-time password
        "Linked 1 account(s) with start date",  # step 4
        "connected",
        "transactions 2",  # step 5: the daily send published both
        "Coffee beans",  # step 6: QuickBooks shows them
        "Catering deposit",
        "QuickBooks got 401",  # step 7: refused after the revoke
        "refused",
    ]
    at = 0
    for text in promised:
        found = output.find(text, at)
        assert found >= 0, f"{text!r} not printed after position {at}:\n{output}"
        at = found + len(text)
