-- Counts a pack's filters on its layer job once; the last pack puts the layer job's finish task
-- in the outbox.
-- KEYS: layer job record, layer job's counted-packs set, outbox
-- ARGV: pack id, succeeded, failed, canceled, the finish task's outbox entry
-- Returns 1 when this was the layer job's last pack, else 0.
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'count_succeeded', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'count_failed', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'count_canceled', ARGV[4])
local done = redis.call('SCARD', KEYS[2])
if done == tonumber(redis.call('HGET', KEYS[1], 'packs_total')) then
  local now = redis.call('TIME')
  redis.call('ZADD', KEYS[3], now[1] + now[2] / 1e6, ARGV[5])
  return 1
end
return 0
