"""A real HTTP webhook receiver for tests: verifies every delivery with standardwebhooks."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook

from tests.helpers.clients import Linkable
from tests.helpers.feeds import Feed
from tests.helpers.logs import remember_secret


@dataclass
class Receiver:
    url: str
    secret: str = ""
    fail_first: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    verified: list[bool] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [e for e in self.received if event_type is None or e["eventType"] == event_type]


@contextmanager
def receiver(fail_first: int = 0) -> Iterator[Receiver]:
    holder: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            rec = holder["r"]
            body = self.rfile.read(int(self.headers["content-length"]))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                Webhook(rec.secret).verify(body, headers)
                ok = True
            except Exception:
                ok = False
            with rec.lock:
                attempt = len(rec.received)
                rec.received.append(
                    json.loads(body)
                    | {"_webhookId": headers["webhook-id"], "_host": headers["host"]}
                )
                rec.verified.append(ok)
            status = 500 if attempt < rec.fail_first else 200
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder["r"] = Receiver(
        f"http://127.0.0.1:{server.server_address[1]}/hook", fail_first=fail_first
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder["r"]
    finally:
        server.shutdown()
        server.server_close()


async def subscribe(feed_or_link: Feed | Linkable, rec: Receiver, *types: str) -> str:
    """`rec` subscribed through the client API to `types`: the endpoint's id."""
    api = feed_or_link.api
    r = await api.call("POST", "/webhooks/endpoints", {"url": rec.url, "eventTypes": list(types)})
    assert r.status_code == 201, r.text
    rec.secret = r.json()["secret"]
    remember_secret(rec.secret)
    return str(r.json()["id"])
