"""Broken clients against a real uvicorn server (`live_server`), over raw sockets.

- A body cut mid-stream (a Content-Length larger than what is sent, or a chunked body that
  stops, then the socket closes): nothing is stored and the server stays healthy.
- A client that sends a whole push and disconnects before (or while) the answer comes: the push
  is stored whole or not at all, never in part.

Each case runs ten times in a row inside its test, at different cut points and delays.
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import socket
import struct
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.transactions.tables import BankTransaction
from tests.helpers.builders import make_tenant
from tests.helpers.clients import basic
from tests.helpers.faults import connected_feed, push_day
from tests.helpers.servers import LiveServer

ROUNDS = 10


async def _feed(live_server: LiveServer, sessions: Any) -> tuple[str, str]:
    tenant = await make_tenant(sessions)
    async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as http:
        path = await connected_feed(http, tenant.api_key, tenant.partner_keys["production"])
    return tenant.api_key, path


def _body(prefix: str, count: int) -> bytes:
    items = [
        {"id": f"{prefix}-{k}", "date": push_day(), "description": "Cut", "amount": "-2.50"}
        for k in range(count)
    ]
    return json.dumps({"accountId": "chk-1", "transactions": items}).encode()


def _head(url: str, path: str, key: str, extra: str) -> bytes:
    host = urlsplit(url).netloc
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: {basic(key)['Authorization']}\r\n"
        f"Content-Type: application/json\r\n{extra}\r\n"
    ).encode()


async def _open(url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    parts = urlsplit(url)
    return await asyncio.open_connection(parts.hostname, parts.port)


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with a reset (SO_LINGER 0), as a crashed client or a dropped network does."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.close()


async def _stored(sessions: async_sessionmaker[AsyncSession], prefix: str) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).where(BankTransaction.transaction_id.like(f"{prefix}%"))
        )
    return int(count or 0)


async def _settled(sessions: async_sessionmaker[AsyncSession], prefix: str) -> int:
    """The count once the server has finished whatever it was doing with the broken requests."""
    last = -1
    for _ in range(50):
        now = await _stored(sessions, prefix)
        if now == last:
            return now
        last = now
        await asyncio.sleep(0.2)
    return last


async def test_body_cut_mid_stream_stores_nothing(
    live_server: LiveServer, sessions: async_sessionmaker[AsyncSession]
) -> None:
    key, path = await _feed(live_server, sessions)
    run = f"cut{secrets.token_hex(3)}"
    rng = random.Random(8)
    for i in range(ROUNDS):
        body = _body(f"{run}-{i}", 200)
        cut = rng.randrange(1, len(body) - 1)
        _reader, writer = await _open(live_server.url)
        if i % 2 == 0:
            writer.write(_head(live_server.url, path, key, f"Content-Length: {len(body)}\r\n"))
            writer.write(body[:cut])
        else:
            writer.write(_head(live_server.url, path, key, "Transfer-Encoding: chunked\r\n"))
            writer.write(f"{len(body):x}\r\n".encode() + body[:cut])
        await writer.drain()
        await asyncio.sleep(rng.uniform(0, 0.05))
        _abort(writer) if i % 3 == 0 else writer.close()
        assert await _settled(sessions, f"{run}-{i}-") == 0, f"round {i}: a cut push stored rows"
    async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as http:
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/readyz")).status_code == 200
        whole = await http.post(
            path,
            content=_body(f"{run}-whole", 3),
            headers={**basic(key), "Content-Type": "application/json"},
        )
        assert whole.status_code == 200, whole.text
    assert await _stored(sessions, f"{run}-whole-") == 3


async def test_client_gone_mid_push_stores_all_or_nothing(
    live_server: LiveServer, sessions: async_sessionmaker[AsyncSession]
) -> None:
    key, path = await _feed(live_server, sessions)
    run = f"gone{secrets.token_hex(3)}"
    delays = [0, 0.001, 0.003, 0.005, 0.01, 0.02, 0.04, 0.08, 0.15, 0.3]
    outcomes = []
    for i, delay in enumerate(delays[:ROUNDS]):
        body = _body(f"{run}-{i}", 500)
        _reader, writer = await _open(live_server.url)
        writer.write(_head(live_server.url, path, key, f"Content-Length: {len(body)}\r\n") + body)
        await writer.drain()
        await asyncio.sleep(delay)
        _abort(writer) if i % 2 == 0 else writer.close()
        stored = await _settled(sessions, f"{run}-{i}-")
        assert stored in (0, 500), f"round {i}: {stored} of 500 stored"
        outcomes.append(stored)
    async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as http:
        assert (await http.get("/readyz")).status_code == 200
    # A push whose whole body arrived is committed even when its client is gone.
    assert outcomes[-1] == 500
