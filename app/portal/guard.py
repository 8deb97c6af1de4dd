"""What keeps portal sign-in floods from hurting anyone but the one flooding.

- A per-address sign-in limit per minute (429), before any work is done. There is no global
  cap: a botnet could spend it for everyone; the CPU is bounded by the hashing pool instead
  (`app/hashing.py`).
- A lock per (address, e-mail) after `portal_max_failures` wrong passwords in a row, for
  `portal_lockout_minutes`: a stranger can lock only themselves out, never the staff member.
- A per-e-mail slow-down from `portal_max_failures` failures (from any address): one try per
  1, 2, 4 … (≤ 60) seconds, reserved atomically, for addresses that have themselves failed for
  that e-mail recently. An address with no recent failure for it is never slowed down, so the
  real user's right password always gets through while a botnet keeps the e-mail's slots busy.

Times are read from the app clock (tests move it); Redis TTLs only clean up. Unknown e-mails are
counted exactly like real ones. If Redis is down, only the hash bound holds.
"""

from __future__ import annotations

import hashlib
import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app import clock
from app.config import Settings
from app.kit.errors import TooManyRequests

log = logging.getLogger("app.portal")
MAX_WAIT_MS = 60_000

# KEYS: (address, e-mail) lock, e-mail state, (address, e-mail) failures, address failures.
# ARGV: now (ms), failures before the slow-down, longest wait (ms).
# Returns {0, address failures} to go ahead, {1, ms} when (address, e-mail) is locked, {2, ms}
# to slow down. An address with no recent failure for the e-mail goes ahead without spending a
# slot.
_CHECK = """
local now = tonumber(ARGV[1])
local locked = tonumber(redis.call('GET', KEYS[1]) or '0')
if locked > now then return {1, locked - now} end
local mine = tonumber(redis.call('GET', KEYS[4]) or '0')
if tonumber(redis.call('GET', KEYS[3]) or '0') == 0 then return {0, mine} end
local n = tonumber(redis.call('HGET', KEYS[2], 'n') or '0')
if n >= tonumber(ARGV[2]) then
  local wait = math.min(2 ^ (n - tonumber(ARGV[2])) * 1000, tonumber(ARGV[3]))
  local last = tonumber(redis.call('HGET', KEYS[2], 'last') or '0')
  if last + wait > now then return {2, last + wait - now} end
  redis.call('HSET', KEYS[2], 'last', now)
end
return {0, mine}
"""
# KEYS: (address, e-mail) failures, (address, e-mail) lock, e-mail state, address failures.
# ARGV: now (ms), failures before a lock, lock (ms), how long anything is kept (s).
_FAILED = """
local now = tonumber(ARGV[1])
local f = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
if f >= tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], now + tonumber(ARGV[3]), 'EX', ARGV[4])
  redis.call('DEL', KEYS[1])
end
redis.call('HINCRBY', KEYS[3], 'n', 1)
redis.call('HSET', KEYS[3], 'last', now)
redis.call('EXPIRE', KEYS[3], ARGV[4])
redis.call('INCR', KEYS[4])
redis.call('EXPIRE', KEYS[4], ARGV[4])
return f
"""


class Locked(Exception):
    """This address has failed too often for this e-mail: answered like a wrong password."""


class Guard:
    def __init__(self, redis: Redis, settings: Settings, address: str, email: str) -> None:
        self.redis = redis
        self.settings = settings
        pair = hashlib.sha256(f"{address}\0{email}".encode()).hexdigest()[:32]
        where = hashlib.sha256(address.encode()).hexdigest()[:32]
        user = hashlib.sha256(email.encode()).hexdigest()[:32]
        prefix = f"{settings.redis_prefix}portal:"
        self.fail_key, self.lock_key = f"{prefix}fail:{pair}", f"{prefix}lock:{pair}"
        self.user_key = f"{prefix}user:{user}"
        self.address_key = f"{prefix}addr:{where}"
        self._check = redis.register_script(_CHECK)
        self._failed = redis.register_script(_FAILED)

    def _now_ms(self) -> int:
        return int(clock.now().timestamp() * 1000)

    def _keep_seconds(self) -> int:
        return self.settings.portal_lockout_minutes * 60 + 3600

    async def check(self) -> bool:
        """Raise Locked for a locked (address, e-mail), TooManyRequests to slow down; True when
        the address has no recent failure at all (its check goes first on the hashing pool)."""
        try:
            outcome, ms = await self._check(
                keys=[self.lock_key, self.user_key, self.fail_key, self.address_key],
                args=[self._now_ms(), self.settings.portal_max_failures, MAX_WAIT_MS],
            )
        except (RedisError, OSError) as exc:
            log.warning("sign-in guard unavailable (%s); not limiting", type(exc).__name__)
            return False
        if int(outcome) == 0:
            return int(ms) == 0
        if int(outcome) == 1:
            raise Locked
        if int(outcome) == 2:
            wait = max(1, -(-int(ms) // 1000))
            raise TooManyRequests(f"Too many sign-ins; retry in {wait} seconds.", retry_after=wait)
        return False

    async def failed(self) -> None:
        s = self.settings
        try:
            await self._failed(
                keys=[self.fail_key, self.lock_key, self.user_key, self.address_key],
                args=[
                    self._now_ms(),
                    s.portal_max_failures,
                    s.portal_lockout_minutes * 60_000,
                    self._keep_seconds(),
                ],
            )
        except (RedisError, OSError) as exc:
            log.warning("could not count a failed sign-in (%s)", type(exc).__name__)

    async def succeeded(self) -> None:
        try:
            await self.redis.delete(self.fail_key, self.user_key, self.address_key)
        except (RedisError, OSError) as exc:
            log.warning("could not reset sign-in failures (%s)", type(exc).__name__)
