"""Nothing shared is held while waiting on a client (issue 28).

The edge (`main.RequestContext`) reads every request's whole body here, bounded in size (413)
and in time (408), before the route runs: no database connection, transaction, SQLite write
lock or in-flight slot is taken until the bytes are in memory, so a client dripping its body
holds only its own socket. The route then reads the body from memory (`replay`).

Also here, the answers for the other held resources: a full connection pool is a 503 with
`Retry-After` (never a 500), and browsers get those answers as a translated page.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Message, Receive

from app import i18n
from app.kit.errors import ApiError, PayloadTooLarge, RequestTimeout, ServiceUnavailable, render

log = logging.getLogger("app.request")

# Seconds a client is told to wait before retrying when the pool is full: a request holds a
# connection for milliseconds once its body is read, so the pool frees up quickly.
POOL_RETRY_AFTER = 2


class ClientGone(Exception):
    """The client hung up before its body was complete: nobody is left to answer."""


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"Request body too large: the limit is {limit} bytes.")


async def read_whole(receive: Receive, limit: int, seconds: float) -> bytes:
    """The whole body within `seconds` and `limit` bytes, or RequestTimeout / PayloadTooLarge /
    ClientGone. A total deadline rather than a rate: a client that drips one byte a second keeps
    nothing of ours longer than the deadline."""
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(seconds):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientGone
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise too_large(limit)
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
    except TimeoutError:
        raise RequestTimeout(
            f"The request body did not arrive within {seconds:g} seconds; send it faster."
        ) from None
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the route the body already read, then waits on the client as
    the server's own would (for the disconnect a streaming answer listens for)."""
    given = False

    async def replayed() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def wants_html(request: Request) -> bool:
    """A browser (the Link page, the portal) asks for HTML; API clients ask for JSON."""
    return "text/html" in request.headers.get("accept", "")


def answer(request: Request, error: ApiError) -> Response:
    """The error in the API's shape, or for a browser a translated page saying what to do.
    A 408 closes the connection: the rest of the body is never read."""
    if wants_html(request) and error.status in (408, 503):
        language = i18n.negotiate(request.headers.get("accept-language"))
        html = (
            i18n.environment(language)
            .get_template("unavailable.html")
            .render(timeout=error.status == 408)
        )
        response: Response = HTMLResponse(html, status_code=error.status, headers=error.headers)
    else:
        response = render(error)
    if error.status == 408:
        response.headers["Connection"] = "close"
    return response


def pool_exhausted() -> ServiceUnavailable:
    return ServiceUnavailable(
        "The service is busy; please retry shortly.",
        headers={"Retry-After": str(POOL_RETRY_AFTER)},
    )


async def handle_pool_timeout(request: Request, exc: Exception) -> Response:
    """SQLAlchemy's pool timeout: every connection is in use. A 503 to retry, never a 500."""
    log.warning("database pool exhausted: answered 503")
    return answer(request, pool_exhausted())
