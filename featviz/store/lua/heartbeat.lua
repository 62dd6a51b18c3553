-- Renews the lease of a running job's attempt.
-- KEYS: record, leases
-- ARGV: now, attempt, lease seconds
-- Returns 1, or 0 when that attempt no longer holds the job.
--#include counts
if redis.call('HGET', KEYS[1], 'status') ~= 'running'
   or redis.call('HGET', KEYS[1], 'attempts') ~= ARGV[2] then
  return 0
end
redis.call('ZADD', KEYS[2], now_s() + tonumber(ARGV[3]), redis.call('HGET', KEYS[1], 'id'))
redis.call('HSET', KEYS[1], 'heartbeat_at', ARGV[1])
return 1
