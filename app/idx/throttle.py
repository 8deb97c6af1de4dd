"""Failed IDX sign-ins counted in Redis, per (partner key, username) and per (partner key, address).

Only requests that carry a valid partner key are counted, and every counter is scoped by that
key: failures caused with a garbage key, or with another tenant's key, never touch the counters
that QuickBooks' own requests (the right key) are judged by. So a request whose partner key and
credentials are right is refused only for failures made with that same key and username.

Per (key, username): after `idx_throttle_after` failures a growing wait (429 with Retry-After),
after `idx_lock_after` a lock for `idx_lock_seconds`, even for the right password. Every check
first takes a reservation in one Lua script (failures + checks in flight may not pass
`idx_lock_after`), so a burst of parallel guesses cannot all be checked before the first fails.
Per (key, address): from `idx_ip_lock_after` failures, further failures from that address answer
429 instead of 401; right credentials still pass (the address is shared by every QuickBooks user).
Unknown usernames are counted exactly like real ones, and cost the same decoy argon2 check until
the address is past its limit; from then on they are refused without it (the answer is 429
either way), so a partner-key holder's random-username flood spends no hashing. Every limit is
decided before the hash. If Redis is down, nothing is throttled.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.config import Settings
from app.kit.errors import TooManyRequests

log = logging.getLogger("app.idx")
MAX_WAIT_SECONDS = 60
# A reservation not given back (a process killed mid-check) stops counting after this long.
INFLIGHT_TTL_MS = 120_000

# KEYS: lock, wait, failures, in flight, address failures. ARGV: lock_after, in-flight ttl (ms).
# Returns {0, failures on record, address failures} when the check may run, {1, ms to wait}
# when refused.
_ATTEMPT = """
local lock = redis.call('PTTL', KEYS[1])
if lock > 0 then return {1, lock} end
local wait = redis.call('PTTL', KEYS[2])
if wait > 0 then return {1, wait} end
local failures = tonumber(redis.call('GET', KEYS[3]) or '0')
local inflight = redis.call('INCR', KEYS[4])
redis.call('PEXPIRE', KEYS[4], ARGV[2])
if failures + inflight > tonumber(ARGV[1]) then
  redis.call('DECR', KEYS[4])
  return {1, 1000}
end
return {0, failures, tonumber(redis.call('GET', KEYS[5]) or '0')}
"""
# KEYS: lock, wait, failures, in flight, address failures.
# ARGV: throttle_after, lock_after, window (s), lock (s), max wait (s).
# Returns {address failures, ms left of the address window}.
_FAILED = """
redis.call('DECR', KEYS[4])
local n = redis.call('INCR', KEYS[3])
if redis.call('TTL', KEYS[3]) < 0 then redis.call('EXPIRE', KEYS[3], ARGV[3]) end
if n >= tonumber(ARGV[2]) then
  redis.call('SET', KEYS[1], 1, 'EX', ARGV[4])
elseif n >= tonumber(ARGV[1]) then
  local w = math.min(2 ^ (n - tonumber(ARGV[1])), tonumber(ARGV[5]))
  redis.call('SET', KEYS[2], 1, 'EX', w)
end
local a = redis.call('INCR', KEYS[5])
if redis.call('TTL', KEYS[5]) < 0 then redis.call('EXPIRE', KEYS[5], ARGV[3]) end
return {a, redis.call('PTTL', KEYS[5])}
"""
# KEYS: wait, failures, in flight. ARGV: 1 when failures are on record (reset them).
_SUCCEEDED = """
redis.call('DECR', KEYS[3])
if ARGV[1] == '1' then redis.call('DEL', KEYS[1], KEYS[2]) end
return 0
"""


@dataclass(frozen=True)
class Attempt:
    """A reserved check: the keys it counts under and whether failures were on record."""

    user_keys: list[str]
    address_key: str
    had_failures: bool
    counted: bool = True
    # The address is past `idx_ip_lock_after`: an unknown username is refused without the
    # decoy hash (its answer is 429 either way), so a random-username flood costs no argon2.
    address_over: bool = False


class Throttle:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        self._attempt = redis.register_script(_ATTEMPT)
        self._failed = redis.register_script(_FAILED)
        self._succeeded = redis.register_script(_SUCCEEDED)

    def _key(self, kind: str, partner: uuid.UUID, value: str) -> str:
        # Hashed: usernames and addresses never sit in Redis in the clear.
        ident = hashlib.sha256(f"{partner}:{value}".encode()).hexdigest()[:32]
        return f"{self.settings.redis_prefix}idx:{kind}:{ident}"

    async def attempt(self, partner: uuid.UUID, username: str, address: str) -> Attempt:
        """Reserve one password check for (partner, username), or raise 429."""
        user_keys = [
            self._key(kind, partner, username) for kind in ("lock:u", "wait:u", "fail:u", "busy:u")
        ]
        address_key = self._key("fail:ip", partner, address)
        try:
            refused, value, *at_address = await self._attempt(
                keys=[*user_keys, address_key], args=[self.settings.idx_lock_after, INFLIGHT_TTL_MS]
            )
        except (RedisError, OSError) as exc:
            log.warning("sign-in throttle unavailable (%s); not throttling", type(exc).__name__)
            return Attempt(user_keys, address_key, had_failures=False, counted=False)
        if int(refused):
            wait = -(-int(value) // 1000)
            raise TooManyRequests(
                f"Too many failed sign-ins; retry after {wait} seconds.", retry_after=wait
            )
        over = bool(at_address) and int(at_address[0]) >= self.settings.idx_ip_lock_after
        return Attempt(user_keys, address_key, had_failures=int(value) > 0, address_over=over)

    async def failed(self, attempt: Attempt) -> None:
        """Count the failure; raise 429 instead of the 401 once the address has too many."""
        if not attempt.counted:
            return
        s = self.settings
        try:
            at_address, left_ms = await self._failed(
                keys=[*attempt.user_keys, attempt.address_key],
                args=[
                    s.idx_throttle_after,
                    s.idx_lock_after,
                    s.idx_failure_window_seconds,
                    s.idx_lock_seconds,
                    MAX_WAIT_SECONDS,
                ],
            )
        except (RedisError, OSError) as exc:
            log.warning("could not count a failed sign-in (%s)", type(exc).__name__)
            return
        if int(at_address) > s.idx_ip_lock_after:
            wait = max(1, -(-int(left_ms) // 1000))
            raise TooManyRequests(
                f"Too many failed sign-ins; retry after {wait} seconds.", retry_after=wait
            )

    async def succeeded(self, attempt: Attempt) -> None:
        await self.release(attempt, reset=attempt.had_failures)

    async def release(self, attempt: Attempt, reset: bool = False) -> None:
        """Give the reservation back (and, after a success, forget the failures)."""
        if not attempt.counted:
            return
        try:
            await self._succeeded(keys=attempt.user_keys[1:], args=["1" if reset else "0"])
        except (RedisError, OSError) as exc:
            log.warning("could not reset sign-in failures (%s)", type(exc).__name__)
