"""Real HTTP servers on loopback that behave as a hostile or broken webhook receiver would: one
that never answers, one that drips its answer a byte at a time, one that answers slowly, one that
floods an endless body. Each counts its connections and how many were open at once."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

KINDS = ("silent", "drip_head", "drip_body", "slow", "flood", "error")


@dataclass
class Hostile:
    url: str
    connections: int = 0
    open_now: int = 0
    most_open: int = 0
    bytes_sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _read_request(conn: socket.socket) -> None:
    """Reads the request head and its body (content-length), so the client is done sending."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return
        body += chunk


@contextmanager
def hostile(kind: str, delay: float = 0.5) -> Iterator[Hostile]:
    """A server of `kind` on 127.0.0.1 (`delay`: the drip interval, or how long `slow` waits)."""
    assert kind in KINDS
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.2)  # so the accept loop sees `stop`
    state = Hostile(f"http://127.0.0.1:{listener.getsockname()[1]}/hook")
    stop = threading.Event()

    def send(conn: socket.socket, data: bytes) -> None:
        conn.sendall(data)
        with state.lock:
            state.bytes_sent += len(data)

    def serve(conn: socket.socket) -> None:
        with state.lock:
            state.connections += 1
            state.open_now += 1
            state.most_open = max(state.most_open, state.open_now)
        try:
            _read_request(conn)
            if kind == "silent":
                conn.settimeout(0.2)
                while not stop.is_set():  # until the client gives up and closes
                    try:
                        if not conn.recv(1):
                            break
                    except TimeoutError:
                        continue
            elif kind == "drip_head":
                for byte in b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n":
                    if stop.wait(delay):
                        break
                    send(conn, bytes([byte]))
            elif kind == "drip_body":
                send(conn, b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n")
                while not stop.wait(delay):
                    send(conn, b"x")
            elif kind == "slow":
                stop.wait(delay)
                send(conn, b"HTTP/1.1 204 No Content\r\n\r\n")
            elif kind == "flood":
                send(conn, b"HTTP/1.1 200 OK\r\n\r\n")  # no length: the body runs to the close
                chunk = b"x" * 65536
                while not stop.is_set():
                    send(conn, chunk)
            elif kind == "error":
                send(conn, b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n")
        except OSError:
            pass  # the client hung up: what a deadline or a body cap does
        finally:
            with state.lock:
                state.open_now -= 1
            conn.close()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        stop.set()
        listener.close()
        time.sleep(0.05)


def closed_port_url() -> str:
    """A loopback URL where nothing listens: connections are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"
