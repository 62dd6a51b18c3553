-- Takes webhook deliveries that are due, each for a while: a dispatcher that dies holding one
-- leaves it due again once that while is over (at-least-once delivery).
-- KEYS: due deliveries, payloads
-- ARGV: how many at most, seconds each is taken for
-- Returns {delivery, payload, delivery, payload, ...}.
--#include counts
local now = now_s()
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
local taken = {}
for _, delivery in ipairs(due) do
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), delivery)
  table.insert(taken, delivery)
  table.insert(taken, redis.call('HGET', KEYS[2], delivery) or '')
end
return taken
