"""Schemathesis against our own /openapi.json, over real HTTP, with a real API key.

Every operation of the client API gets generated requests, valid and invalid: no 5xx, every
answer in its declared status, content type, headers and schema, every schema-valid request
accepted and every schema-invalid one refused (settings in tests/fuzz/schemathesis.toml).
CI runs it once, in the PostgreSQL + Redis round (BANKFEEDS_FUZZ=1); the README shows the
longer run. Set BANKFEEDS_FUZZ_EXAMPLES to change the examples per operation (default 30).
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import LiveServer, make_tenant

CONFIG = Path(__file__).parent / "fuzz" / "schemathesis.toml"
ST = Path(sys.executable).parent / "st"
MIN_REQUESTS = 2000

pytestmark = pytest.mark.configured(
    bool(os.environ.get("BANKFEEDS_FUZZ")),
    "schemathesis: BANKFEEDS_FUZZ=1 (CI's PostgreSQL round)",
)


async def test_schemathesis_finds_nothing(live_server: LiveServer, sessions: Any) -> None:
    tenant = await make_tenant(sessions)
    key = base64.b64encode(tenant.api_key.encode()).decode()
    examples = os.environ.get("BANKFEEDS_FUZZ_EXAMPLES", "30")
    run = await asyncio.to_thread(
        subprocess.run,
        [
            str(ST),
            "--config-file",
            str(CONFIG),
            "run",
            f"{live_server.url}/openapi.json",
            "--header",
            f"Authorization: Basic {key}",
            "--max-examples",
            examples,
            "--seed",
            os.environ.get("BANKFEEDS_FUZZ_SEED", "20261122"),
            # One worker: CPython 3.11's ast module is not safe across the threads of several.
            "--workers",
            "1",
            # IDX operations authenticate with one-time credentials, not an API key; their
            # answers to bad input are covered in tests/test_idx.py.
            "--exclude-path-regex",
            "^/partners/",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-20000:]
    generated = re.search(r"(\d+) generated", output)
    assert generated, output[-3000:]
    assert int(generated.group(1)) >= MIN_REQUESTS, output[-3000:]
    print(f"schemathesis: {generated.group(1)} generated requests, no failure")
    # The server's own log of all those requests holds no key (the suite scans in-process logs).
    server_log = live_server.log_path.read_text(errors="replace")
    assert server_log, "the server wrote no log lines"
    assert tenant.api_key not in server_log and key not in server_log
