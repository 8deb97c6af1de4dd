"""Failed IDX sign-ins counted in Redis, per (partner key, username) and per (partner key, address).

Only requests that carry a valid partner key are counted as failures, and every counter is
scoped by that key (its digest): failures caused with a garbage key, or with another tenant's
key, never touch the counters that QuickBooks' own requests (the right key) are judged by. So a
request whose partner key and credentials are right is refused only for failures made with that
same key and username.

Per (key, username): after `idx_throttle_after` failures a growing wait (429 with Retry-After),
after `idx_lock_after` a lock for `idx_lock_seconds`, even for the right password. Every check
first takes a reservation (failures + checks in flight may not pass `idx_lock_after`), so a
burst of parallel guesses cannot all be checked before the first fails.
Per (key, address): from `idx_ip_lock_after` failures, further failures from that address answer
429 instead of 401; right credentials still pass (the address is shared by every QuickBooks user).
Unknown usernames are counted exactly like real ones, and cost the same decoy argon2 check until
the address is past its limit; from then on they are refused without it (the answer is 429
either way), so a partner-key holder's random-username flood spends no hashing.

Every limit is decided in **one** round trip (`attempt`, one Lua script: the per-minute window,
the username's lock, wait and reservation, the address) keyed by the partner key's digest, before
the key is looked up and before any database connection is taken; a refusal costs nothing else.
Past the address limit, a username this service never issued (no mark in Redis, set when a set
is made and refreshed by each successful sign-in) is not looked up at all beyond
`idx_ip_unlisted_checks_per_minute` a minute from that address: a random-username flood is then
answered from Redis alone, while a real set whose mark is missing (made before marks existed, or
while Redis was down) still gets that many look-ups a minute. If Redis is down, nothing is
throttled.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.requests import Request

from app.config import Settings
from app.credentials import service as credentials
from app.kit.errors import TooManyRequests
from app.kit.ratelimit import WINDOW_TTL_SECONDS, Window

log = logging.getLogger("app.idx")
MAX_WAIT_SECONDS = 60
# A reservation not given back (a process killed mid-check) stops counting after this long.
INFLIGHT_TTL_MS = 120_000

# KEYS: window, lock, wait, failures, in flight, address failures, the username's mark, the
# address's budget of unlisted look-ups this minute. ARGV: window limit, window ttl (s),
# lock_after, in-flight ttl (ms), ip_lock_after, unlisted look-ups a minute.
# Returns {outcome, value, window used, address failures}: outcome 0 = the check may run (value:
# failures on record); 1 = refused for the username (value: ms to wait); 2 = refused by the
# window; 3 = refused for the address (value: ms left of its window).
_ATTEMPT = """
local used = redis.call('INCR', KEYS[1])
if used == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
if used > tonumber(ARGV[1]) then return {2, 0, used, 0} end
local lock = redis.call('PTTL', KEYS[2])
if lock > 0 then return {1, lock, used, 0} end
local wait = redis.call('PTTL', KEYS[3])
if wait > 0 then return {1, wait, used, 0} end
local failures = tonumber(redis.call('GET', KEYS[4]) or '0')
local at_address = tonumber(redis.call('GET', KEYS[6]) or '0')
if at_address >= tonumber(ARGV[5]) and redis.call('EXISTS', KEYS[7]) == 0 then
  local n = redis.call('INCR', KEYS[8])
  if n == 1 then redis.call('EXPIRE', KEYS[8], ARGV[2]) end
  if n > tonumber(ARGV[6]) then return {3, redis.call('PTTL', KEYS[6]), used, at_address} end
end
local inflight = redis.call('INCR', KEYS[5])
redis.call('PEXPIRE', KEYS[5], ARGV[4])
if failures + inflight > tonumber(ARGV[3]) then
  redis.call('DECR', KEYS[5])
  return {1, 1000, used, at_address}
end
return {0, failures, used, at_address}
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
# KEYS: wait, failures, in flight[, the username's mark]. ARGV: 1 when failures are on record
# (reset them)[, how long the mark lasts (s)].
_SUCCEEDED = """
redis.call('DECR', KEYS[3])
if ARGV[1] == '1' then redis.call('DEL', KEYS[1], KEYS[2]) end
if KEYS[4] then redis.call('SET', KEYS[4], 1, 'EX', ARGV[2]) end
return 0
"""
# A set in use stays marked this long after its last successful sign-in.
MARK_SECONDS = 30 * 86_400


@dataclass(frozen=True)
class Attempt:
    """A reserved check: the keys it counts under and whether failures were on record."""

    user_keys: list[str]
    address_key: str
    name_key: str
    had_failures: bool
    counted: bool = True
    # The address is past `idx_ip_lock_after`: an unknown username is refused without the
    # decoy hash (its answer is 429 either way), so a random-username flood costs no argon2.
    address_over: bool = False


class Throttle:
    """One per app (`of`): its scripts are registered once."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        self._attempt = redis.register_script(_ATTEMPT)
        self._failed = redis.register_script(_FAILED)
        self._succeeded = redis.register_script(_SUCCEEDED)

    def _key(self, kind: str, partner: str, value: str) -> str:
        # Hashed: usernames and addresses never sit in Redis in the clear.
        ident = hashlib.sha256(f"{partner}:{value}".encode()).hexdigest()[:32]
        return f"{self.settings.redis_prefix}idx:{kind}:{ident}"

    async def attempt(self, partner: str, username: str, address: str, window: Window) -> Attempt:
        """Every limit in one round trip, before any database work: reserve one password check
        for (partner key digest, username) and count the request in `window`, or raise 429."""
        s = self.settings
        user_keys = [
            self._key(kind, partner, username) for kind in ("lock:u", "wait:u", "fail:u", "busy:u")
        ]
        address_key = self._key("fail:ip", partner, address)
        name_key = credentials.name_mark(s, username)
        unlisted = self._key("new:ip", partner, f"{address}:{window.minute}")
        try:
            outcome, value, used, at_address = await self._attempt(
                keys=[window.key, *user_keys, address_key, name_key, unlisted],
                args=[
                    s.idx_requests_per_minute,
                    WINDOW_TTL_SECONDS,
                    s.idx_lock_after,
                    INFLIGHT_TTL_MS,
                    s.idx_ip_lock_after,
                    s.idx_ip_unlisted_checks_per_minute,
                ],
            )
        except (RedisError, OSError) as exc:
            log.warning("sign-in throttle unavailable (%s); not throttling", type(exc).__name__)
            return Attempt(user_keys, address_key, name_key, had_failures=False, counted=False)
        window.count(int(used), s.idx_requests_per_minute)  # 429 past the window
        if int(outcome) in (1, 3):
            wait = max(1, -(-int(value) // 1000))
            raise TooManyRequests(
                f"Too many failed sign-ins; retry after {wait} seconds.", retry_after=wait
            )
        over = int(at_address) >= s.idx_ip_lock_after
        return Attempt(
            user_keys, address_key, name_key, had_failures=int(value) > 0, address_over=over
        )

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
        """Give the reservation back, forget the failures and keep the username marked."""
        await self.release(attempt, reset=attempt.had_failures, mark=True)

    async def release(self, attempt: Attempt, reset: bool = False, mark: bool = False) -> None:
        """Give the reservation back (and, after a success, forget the failures)."""
        if not attempt.counted:
            return
        keys, args = attempt.user_keys[1:], ["1" if reset else "0"]
        if mark:
            keys, args = [*keys, attempt.name_key], [*args, str(MARK_SECONDS)]
        try:
            await self._succeeded(keys=keys, args=args)
        except (RedisError, OSError) as exc:
            log.warning("could not reset sign-in failures (%s)", type(exc).__name__)


def of(request: Request) -> Throttle:
    """The app's throttle (made on first use)."""
    state = request.app.state
    throttle: Throttle | None = getattr(state, "idx_throttle", None)
    if throttle is None:
        services = state.services
        throttle = state.idx_throttle = Throttle(services.redis, services.settings)
    return throttle
