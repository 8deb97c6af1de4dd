"""A real DNS server on a loopback UDP socket for the tests (the machine's own resolver may
answer nothing): names map to addresses; `silent` names are never answered (a resolver that
hangs); anything else is NXDOMAIN. Only A and AAAA questions; enough of RFC 1035 for c-ares."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address, ip_address

A, AAAA = 1, 28
NOERROR, NXDOMAIN = 0, 3
PUBLIC = "93.184.215.14"  # a public address (documentation ranges are not public)
CLOSED = "127.0.0.9"  # loopback, where nothing listens on 80 or 443


@dataclass
class Zone:
    names: dict[str, list[str]] = field(default_factory=dict)
    suffixes: dict[str, list[str]] = field(default_factory=dict)  # ".example.com": [...]
    silent: set[str] = field(default_factory=set)
    silent_suffixes: tuple[str, ...] = ()
    asked: list[str] = field(default_factory=list)

    def lookup(self, name: str) -> list[str] | None:
        if name in self.names:
            return self.names[name]
        for suffix, found in self.suffixes.items():
            if name.endswith(suffix):
                return found
        return None

    def is_silent(self, name: str) -> bool:
        return name in self.silent or name.endswith(self.silent_suffixes)


def _question(packet: bytes) -> tuple[str, int, int]:
    """(name, qtype, end of the question) of a query."""
    labels, at = [], 12
    while packet[at]:
        labels.append(packet[at + 1 : at + 1 + packet[at]].decode("ascii").lower())
        at += 1 + packet[at]
    qtype = struct.unpack("!H", packet[at + 1 : at + 3])[0]
    return ".".join(labels), qtype, at + 5


def answer(zone: Zone, packet: bytes) -> bytes | None:
    name, qtype, end = _question(packet)
    zone.asked.append(name)
    if zone.is_silent(name):
        return None
    found = zone.lookup(name)
    wanted = [ip_address(a) for a in found or []]
    kind = IPv4Address if qtype == A else IPv6Address
    records = [ip.packed for ip in wanted if isinstance(ip, kind)]
    rcode = NXDOMAIN if found is None else NOERROR
    header = struct.pack(
        "!HHHHHH", struct.unpack("!H", packet[:2])[0], 0x8180 | rcode, 1, len(records), 0, 0
    )
    body = b"".join(struct.pack("!HHHIH", 0xC00C, qtype, 1, 0, len(r)) + r for r in records)
    return header + packet[12:end] + body


@contextmanager
def dns_server(zone: Zone) -> Iterator[str]:
    """Serves `zone` on 127.0.0.1; yields "127.0.0.1:port" for BANKFEEDS_WEBHOOK_DNS_SERVERS."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            try:
                packet, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                reply = answer(zone, packet)
            except (IndexError, struct.error, UnicodeDecodeError):
                continue
            if reply is not None:
                sock.sendto(reply, peer)

    thread = threading.Thread(target=run, name="test-dns", daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        sock.close()


@contextmanager
def silent_dns() -> Iterator[str]:
    """A UDP socket that reads queries and never answers (a resolver that hangs)."""
    with dns_server(Zone(silent_suffixes=("",))) as where:
        yield where
