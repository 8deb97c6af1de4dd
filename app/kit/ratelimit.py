"""Rate limits counted in Redis: per tenant as Codat documents them, per caller for IDX and Link.

Client API: a daily quota per tenant and environment (reset at 00:00 UTC by the app clock, so
tests can cross midnight) and a cap on requests in flight at once (per environment too: a
sandbox flood never slows production), reported on every authenticated answer as
`X-Rate-Limit-Limit/Remaining/Reset`; over either, 429 with `Retry-After`. The IDX API (per
username, or per address before a username is known) and the Link pages (per address) get fixed
one-minute windows of their own, reported in the same headers (the window's limit, what is left
of it, and its end). Each check is one Lua script, so concurrent API processes
agree. If Redis is down nothing is limited: pushes must keep flowing (a warning is logged).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.requests import Request

from app import clock
from app.config import Settings
from app.kit.errors import TooManyRequests

log = logging.getLogger("app.kit.ratelimit")

# The headers an answer should carry; RequestContext puts a fresh dict here for each request.
answer_headers: ContextVar[dict[str, str] | None] = ContextVar("rate_limit_headers", default=None)

# KEYS: day counter, in-flight set, then the in-flight sets of slots given back since the last
# call. ARGV: quota, day ttl (s), cap, now (ms), slot ttl (ms), slot, then those slots (ARGV[i+4]
# belongs to KEYS[i]). Gives the slots back first, then counts this request.
# Returns {requests used today, 1 = slot taken | 0 = over quota | -1 = over the cap}.
_TENANT = """
for i = 3, #KEYS do redis.call('ZREM', KEYS[i], ARGV[i + 4]) end
local used = redis.call('INCR', KEYS[1])
if used == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
if used > tonumber(ARGV[1]) then return {used, 0} end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tonumber(ARGV[4]) - tonumber(ARGV[5]))
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then return {used, -1} end
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return {used, 1}
"""
# KEYS: window counter[, a key to read in the same round trip]. ARGV: window ttl (s).
# Returns {the requests counted in the window[, the key's value if it has one]}.
_WINDOW = """
local used = redis.call('INCR', KEYS[1])
if used == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
if KEYS[2] then return {used, redis.call('GET', KEYS[2])} end
return {used}
"""
# A window's counter outlives its minute by one, then goes.
WINDOW_TTL_SECONDS = 120
# A slot not given back (a process killed mid-request) stops counting after this long.
SLOT_TTL_MS = 120_000
# A slot given back is sent to Redis with this process's next `enter_tenant` (one round trip for
# both), or after this long when no request comes: other processes may see it held that long.
GIVE_BACK_SECONDS = 0.05
CONCURRENCY_RETRY_SECONDS = 1


class RateLimits:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        self._tenant = redis.register_script(_TENANT)
        self._window = redis.register_script(_WINDOW)
        self._given_back: list[tuple[str, str]] = []  # (in-flight set, slot) not yet removed
        self._give_back: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def _key(self, *parts: str) -> str:
        return self.settings.redis_prefix + "rl:" + ":".join(parts)

    async def enter_tenant(self, request: Request, tenant: uuid.UUID, environment: str) -> None:
        """Count one request against the tenant's day in its environment and take an in-flight
        slot, or raise 429. Sandbox and production have quotas of their own, so trying things
        out with a sandbox key never spends production's day.

        Called once per request (an idempotent request authenticates twice); `leave` gives the
        slot back when the answer is done.
        """
        if getattr(request.state, "rate_slot", None) is not None:
            return
        s = self.settings
        quota = (
            s.rate_limit_daily_quota_sandbox
            if environment == "sandbox"
            else s.rate_limit_daily_quota
        )
        now = clock.now()
        day = now.strftime("%Y%m%d")
        reset = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
        slot_key = self._key("busy", str(tenant), environment)  # sandbox never fills production
        slot = uuid.uuid4().hex
        given_back, self._given_back = self._given_back, []
        try:
            used, outcome = await self._tenant(
                keys=[
                    self._key("day", str(tenant), environment, day),
                    slot_key,
                    *(key for key, _ in given_back),
                ],
                args=[
                    quota,
                    2 * 86_400,
                    s.rate_limit_concurrency,
                    int(now.timestamp() * 1000),
                    SLOT_TTL_MS,
                    slot,
                    *(member for _, member in given_back),
                ],
            )
        except (RedisError, OSError) as exc:
            self._given_back[:0] = given_back  # still to give back
            log.warning("rate limits unavailable (%s); not limiting", type(exc).__name__)
            return
        _set_headers(
            {
                "X-Rate-Limit-Limit": str(quota),
                "X-Rate-Limit-Remaining": str(max(0, quota - int(used))),
                "X-Rate-Limit-Reset": str(int(reset.timestamp())),
            }
        )
        if int(outcome) == 0:
            wait = int((reset - now).total_seconds()) + 1
            raise TooManyRequests(
                f"The daily {environment} quota of {quota} requests is used up; "
                "it resets at 00:00 UTC.",
                retry_after=wait,
            )
        if int(outcome) == -1:
            raise TooManyRequests(
                f"More than {s.rate_limit_concurrency} requests at once; retry in a moment.",
                retry_after=CONCURRENCY_RETRY_SECONDS,
            )
        request.state.rate_slot = (slot_key, slot)

    async def leave(self, request: Request) -> None:
        """Give the request's in-flight slot back: with this process's next `enter_tenant`, or
        within GIVE_BACK_SECONDS if none comes (no round trip of its own on a busy process)."""
        taken: tuple[str, str] | None = getattr(request.state, "rate_slot", None)
        if taken is None:
            return
        request.state.rate_slot = None
        self._given_back.append(taken)
        if self._give_back is None:
            loop = asyncio.get_running_loop()
            self._give_back = loop.call_later(GIVE_BACK_SECONDS, self._start_give_back)

    def _start_give_back(self) -> None:
        self._give_back = None
        if self._given_back:
            task = asyncio.get_running_loop().create_task(self.give_back())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def give_back(self) -> None:
        """Remove every slot given back and not yet removed (also at shut-down)."""
        if self._give_back is not None:
            self._give_back.cancel()
            self._give_back = None
        given_back, self._given_back = self._given_back, []
        if not given_back:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key, member in given_back:
                    pipe.zrem(key, member)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("could not give back rate-limit slots (%s)", type(exc).__name__)

    def window(self, kind: str, ident: str) -> Window:
        """The caller's current one-minute window (hashed: usernames never sit in Redis)."""
        now = clock.now()
        minute = int(now.timestamp()) // 60
        hashed = hashlib.sha256(ident.encode()).hexdigest()[:32]
        return Window(self._key(kind, hashed, str(minute)), minute, int(now.timestamp()))

    async def per_minute(
        self, kind: str, ident: str, limit: int, peek: str | None = None
    ) -> bytes | None:
        """A fixed one-minute window per caller, counted in one round trip; 429 past `limit`.
        Answers the value of the key `peek`, read in the same round trip (None if it has none)."""
        window = self.window(kind, ident)
        try:
            used, *peeked = await self._window(
                keys=[window.key] if peek is None else [window.key, peek],
                args=[WINDOW_TTL_SECONDS],
            )
        except (RedisError, OSError) as exc:
            log.warning("rate limits unavailable (%s); not limiting", type(exc).__name__)
            return None
        window.count(int(used), limit)
        return peeked[0] if peeked else None


@dataclass(frozen=True, slots=True)
class Window:
    """A fixed one-minute window: its Redis counter, the minute and the second it was read."""

    key: str
    minute: int
    now: int

    def count(self, used: int, limit: int) -> None:
        """Report the window in the answer's headers; 429 once `used` is past `limit`."""
        _set_headers(
            {
                "X-Rate-Limit-Limit": str(limit),
                "X-Rate-Limit-Remaining": str(max(0, limit - used)),
                "X-Rate-Limit-Reset": str((self.minute + 1) * 60),
            }
        )
        if used > limit:
            wait = (self.minute + 1) * 60 - self.now
            raise TooManyRequests(
                f"More than {limit} requests in a minute; retry after {wait} seconds.",
                retry_after=wait,
            )


def _set_headers(values: dict[str, str]) -> None:
    holder = answer_headers.get()
    if holder is not None:
        holder.update(values)


def limits_of(request: Request) -> RateLimits:
    return request.app.state.limits  # type: ignore[no-any-return]


def address(request: Request) -> str:
    """The caller's address: the peer, or behind trusted proxies the right-most untrusted hop.

    Only hops listed in `trusted_proxies` may speak for the caller through X-Forwarded-For; with
    none configured (the default) the header is ignored, so nobody can choose their address.
    """
    peer = request.client.host if request.client else "unknown"
    services = getattr(request.app.state, "services", None)
    networks = services.settings.trusted_proxy_networks if services else ()
    return caller(peer, request.headers.getlist("x-forwarded-for"), networks)


def caller(peer: str, forwarded: list[str], networks: tuple[IPv4Network | IPv6Network, ...]) -> str:
    current = peer
    if not networks:
        return current
    hops = [h.strip() for value in forwarded for h in value.split(",")]
    while _trusted(current, networks) and hops:
        hop = hops.pop()
        try:
            current = str(ip_address(hop))
        except ValueError:
            return current  # garbage from a trusted proxy's client: the proxy saw no more
    return current


def _trusted(host: str, networks: tuple[IPv4Network | IPv6Network, ...]) -> bool:
    try:
        ip = ip_address(host)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def header_list() -> list[tuple[bytes, bytes]]:
    holder: dict[str, Any] | None = answer_headers.get()
    return [(k.lower().encode(), str(v).encode()) for k, v in (holder or {}).items()]
