"""Failed IDX sign-ins counted in Redis, per username and per client address.

After `idx_throttle_after` failures a username may try again only after a growing wait (429 with
Retry-After); after `idx_lock_after` it is locked for `idx_lock_seconds`, and so is an address
after `idx_ip_lock_after`. Unknown usernames are counted exactly like real ones, so the answers
never tell whether a username exists. If Redis is down, sign-ins still work, unthrottled.
"""

from __future__ import annotations

import hashlib
import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.config import Settings
from app.errors import TooManyRequests

log = logging.getLogger("app.idx")
MAX_WAIT_SECONDS = 60


class Throttle:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings

    def _key(self, kind: str, value: str) -> str:
        # Usernames are hashed so they never sit in Redis in the clear.
        ident = hashlib.sha256(value.encode()).hexdigest()[:32] if kind.endswith("u") else value
        return f"{self.settings.redis_prefix}idx:{kind}:{ident}"

    async def check(self, username: str | None, address: str) -> bool:
        """Raise 429 while throttled or locked; True when the username has failures on record."""
        keys = [self._key("lock:ip", address)]
        if username:
            keys += [
                self._key("lock:u", username),
                self._key("wait:u", username),
                self._key("fail:u", username),
            ]
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.pttl(key)  # milliseconds: TTL would round a last half-second to 0
                ttls = await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("sign-in throttle unavailable (%s); not throttling", type(exc).__name__)
            return False
        has_failures = bool(username) and int(ttls[-1]) != -2  # -2: no such key
        if username:
            ttls = ttls[:-1]
        remaining_ms = max(int(t) for t in ttls)
        if remaining_ms > 0:
            wait = -(-remaining_ms // 1000)
            raise TooManyRequests(
                f"Too many failed sign-ins; retry after {wait} seconds.", retry_after=wait
            )
        return has_failures

    async def failed(self, username: str | None, address: str) -> None:
        s = self.settings
        try:
            counted = [(k, v) for k, v in (("fail:ip", address), ("fail:u", username)) if v]
            async with self.redis.pipeline(transaction=False) as pipe:
                for kind, value in counted:
                    pipe.incr(self._key(kind, value))
                    pipe.ttl(self._key(kind, value))
                replies = await pipe.execute()
            counts = [int(c) for c in replies[::2]]
            ip_count = counts[0]
            user_count = counts[1] if username else 0
            async with self.redis.pipeline(transaction=False) as pipe:
                # (EXPIRE ... NX would do this in one go, but the embedded Redis is 6.2.)
                for (kind, value), ttl in zip(counted, replies[1::2], strict=True):
                    if int(ttl) < 0:
                        pipe.expire(self._key(kind, value), s.idx_failure_window_seconds)
                if ip_count >= s.idx_ip_lock_after:
                    pipe.set(self._key("lock:ip", address), 1, ex=s.idx_lock_seconds)
                if username and user_count >= s.idx_lock_after:
                    pipe.set(self._key("lock:u", username), 1, ex=s.idx_lock_seconds)
                elif username and user_count >= s.idx_throttle_after:
                    wait = min(2 ** (user_count - s.idx_throttle_after), MAX_WAIT_SECONDS)
                    pipe.set(self._key("wait:u", username), 1, ex=wait)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("could not count a failed sign-in (%s)", type(exc).__name__)

    async def succeeded(self, username: str) -> None:
        try:
            await self.redis.delete(self._key("fail:u", username), self._key("wait:u", username))
        except (RedisError, OSError) as exc:
            log.warning("could not reset sign-in failures (%s)", type(exc).__name__)
