-- Records an attempt at a webhook delivery on its job. A delivered one, or one given up after
-- its last attempt, leaves the outbox; another failed one is due again after its backoff, which
-- doubles with each attempt.
-- KEYS: due deliveries, payloads, attempts per delivery, job record
-- ARGV: delivery, event type, now, HTTP status or '', error or '' (delivered), max attempts, first backoff seconds
-- Returns a DeliveryOutcome (featviz/store/outcomes.py).
--#include counts
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 'gone' end
local attempts = redis.call('HINCRBY', KEYS[3], ARGV[1], 1)
redis.call('HINCRBY', KEYS[4], 'webhook_attempts', 1)
redis.call('HSET', KEYS[4], 'webhook_last_event', ARGV[2], 'webhook_last_attempt_at', ARGV[3],
           'webhook_last_status', ARGV[4], 'webhook_last_error', ARGV[5])
local outcome = 'delivered'
if ARGV[5] ~= '' then
  if attempts < tonumber(ARGV[6]) then
    redis.call('ZADD', KEYS[1], now_s() + tonumber(ARGV[7]) * 2 ^ (attempts - 1), ARGV[1])
    return 'retrying'
  end
  outcome = 'given_up'
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HINCRBY', KEYS[4], 'webhook_pending', -1)
redis.call('HINCRBY', KEYS[4], 'webhook_' .. outcome, 1)
return outcome
