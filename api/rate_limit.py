"""A per-key rate limit: a token bucket in Redis, so that every API process shares one budget
per key. A key may burst ``rate_limit_burst`` requests and sustain ``rate_limit_per_s``."""

from __future__ import annotations

import math

import redis

from featviz.store import PREFIX

# KEYS: the key's bucket. ARGV: tokens per second, bucket size. Takes a token if there is one;
# returns {1, 0} when allowed, {0, seconds until a token} when not (as a string: Lua numbers
# come back as integers). Time is Redis's, so every API process agrees on it.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
if wait > 0 then return {0, tostring(wait)} end
return {1, '0'}
"""


class RateLimiter:
    def __init__(self, client: redis.Redis[str], per_s: float, burst: int) -> None:
        self.per_s = per_s
        self.burst = burst
        self._take = client.register_script(_TAKE)

    def retry_after_s(self, owner: str) -> int | None:
        """Take one request from the owner's budget: None when allowed, else the whole seconds
        to wait before the next one would be."""
        allowed, wait_s = self._take(keys=[f"{PREFIX}:rate:{owner}"], args=[self.per_s, self.burst])
        if int(allowed):
            return None
        return max(1, math.ceil(float(wait_s)))
