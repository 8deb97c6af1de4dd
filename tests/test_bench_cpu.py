"""bench's cost accounting (bench/cpu.py, bench/independent.py): the /proc sampler sees a busy
process and its children, matches sockets to their peers, and the independent client sends what
it says it sent. Cheap, and no timing assertions: CPU is burnt until the process's own clock
says so, and figures are only required to be positive and to grow."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench import cpu, independent

# A parent that starts a child; told to (a line on stdin), the child burns 0.3 s of its own CPU
# and says "done"; the parent relays both ways, then waits for a last line.
BURNER = """
import subprocess, sys
child = subprocess.Popen([sys.executable, "-c", '''
import sys, time
sys.stdin.readline()
t = time.process_time()
while time.process_time() - t < 0.3:
    pass
print("done", flush=True)
sys.stdin.readline()
'''], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
print(child.pid, flush=True)
for _ in range(2):
    child.stdin.write(sys.stdin.readline()); child.stdin.flush()
    if _ == 0:
        print(child.stdout.readline().strip(), flush=True)
child.wait()
"""


def test_the_sampler_counts_a_process_tree_and_its_cpu_grows() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", BURNER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None and parent.stdin is not None
        child = int(parent.stdout.readline())
        tree = cpu.process_tree([parent.pid])
        assert tree[0] == parent.pid and child in tree
        before = cpu.sample({"burner": tree})
        parent.stdin.write("go\n")
        parent.stdin.flush()
        assert parent.stdout.readline().strip() == "done"  # the child has burnt its 0.3 s
        after = cpu.sample({"burner": cpu.process_tree([parent.pid])})
        assert after["burner"][child] > before["burner"][child] >= 0
        used = cpu.spent(before, after)["burner"]
        assert used > 0 and used <= cpu.spent({}, after)["burner"]
        # Narrowed to the parent alone, the child's burn is not in it.
        assert cpu.spent(before, after, only={"burner": {parent.pid}})["burner"] < used
        parent.stdin.write("\n")
        parent.stdin.flush()
    finally:
        parent.wait(timeout=30)


def test_a_process_born_in_the_window_counts_whole_and_one_gone_is_left_out() -> None:
    before = {"postgres": {1: 5.0, 2: 1.0}}
    after = {"postgres": {1: 5.5, 3: 0.25}}  # 2 exited, 3 started meanwhile
    assert cpu.spent(before, after) == {"postgres": 0.75}
    assert cpu.spent(before, after, only={"postgres": {3}}) == {"postgres": 0.25}


def test_named_finds_this_process_and_peer_ports_find_its_connection() -> None:
    with open("/proc/self/comm") as f:
        comm = f.read().strip()
    assert os.getpid() in cpu.named(comm)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as conn:
            mine = conn.getsockname()[1]
            assert cpu.tcp_peer_ports([os.getpid()], port) == {mine}
            assert mine not in cpu.tcp_peer_ports([os.getpid()], port + 1 if port < 65535 else 1)


class _Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client expects
    seen: list[tuple[str, str, bytes]] = []
    lock = threading.Lock()

    def _answer(self, body: bytes = b"") -> None:
        with self.lock:
            self.seen.append((self.command, self.path, body))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def do_POST(self) -> None:
        self._answer(self.rfile.read(int(self.headers["Content-Length"])))

    def do_GET(self) -> None:
        self._answer()

    def log_message(self, *args: Any) -> None:
        pass


def test_the_independent_client_sends_new_pushes_and_reports_each_answer() -> None:
    _Recorder.seen = []
    http = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{http.server_address[1]}"
    samples: list[list[int]] = []

    def sample(pids: list[int]) -> dict[str, dict[int, float]]:
        samples.append(pids)
        return cpu.sample({"client": pids})

    try:
        jobs = [
            independent.Job(url, {"X-Test": "1"}, 0.3, "/push", "acc-1", 3, "t0", "2026-12-01"),
            independent.Job(url, {}, 0.3, paths=("/a", "/b")),
        ]
        got = independent.run(jobs, sample)
    finally:
        http.shutdown()
    assert len(samples) == 2 and samples[0] == samples[1] and len(samples[0]) == 2
    assert got.requests == len(got.latencies) > 0 and got.elapsed > 0
    assert cpu.spent(got.before, got.after)["client"] >= 0
    # Every request answered was recorded by the server, plus one warm-up per client.
    assert len(_Recorder.seen) == got.requests + 2
    pushes = [json.loads(body) for method, _, body in _Recorder.seen if method == "POST"]
    ids = [t["id"] for p in pushes for t in p["transactions"]]
    assert len(ids) == 3 * len(pushes) == len(set(ids)), "every pushed transaction is new"
    assert {p["accountId"] for p in pushes} == {"acc-1"}
    assert {path for method, path, _ in _Recorder.seen if method == "GET"} <= {"/a", "/b"}
