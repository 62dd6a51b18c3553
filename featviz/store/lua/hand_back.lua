-- Gives a running attempt's job back to the queue because its worker is stopping: the attempt
-- is not counted, the lease is dropped, and the run task goes in the outbox in the same step, so
-- that a worker dying right after loses nothing (a reaper sends the task); the job waits for a
-- claim again (featviz/store/unclaimed.py).
-- KEYS: record, status counts, leases, outbox
-- ARGV: now, attempt, the run task's outbox entry
-- Returns 1, or 0 when that attempt no longer holds the job.
--#include counts
--#include events
--#include unclaimed
if redis.call('HGET', KEYS[1], 'status') ~= 'running'
   or redis.call('HGET', KEYS[1], 'attempts') ~= ARGV[2] then
  return 0
end
redis.call('HINCRBY', KEYS[1], 'attempts', -1)
count_move(KEYS[2], KEYS[1], 'running', 'queued')
redis.call('HSET', KEYS[1], 'status', 'queued', 'updated_at', ARGV[1])
local id = redis.call('HGET', KEYS[1], 'id')
redis.call('ZREM', KEYS[3], id)
await_claim(id)
redis.call('ZADD', KEYS[4], now_s(), ARGV[3])
announce_status(KEYS[1], 'queued')
return 1
