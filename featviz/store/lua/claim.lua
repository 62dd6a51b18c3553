-- Takes a job for a run under a lease and counts the attempt, unless the job is over, canceled,
-- or running under another delivery's unexpired lease; a job whose attempts are spent fails. A
-- job a worker has taken no longer waits for a claim (featviz/store/unclaimed.py).
-- KEYS: record, parent record or the record again, status counts, leases
-- ARGV: now, worker JSON, max attempts, exhausted-problem JSON, lease seconds,
--       worker-lost problem JSON (the reason when the job's last worker let its lease expire)
-- Returns {outcome, attempts}: the outcome is a ClaimOutcome (featviz/store/outcomes.py).
--#include counts
--#include events
--#include settle
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'missing', 0} end
if finished(status) then return {'finished', 0} end
local id = redis.call('HGET', KEYS[1], 'id')
redis.call('ZREM', '${unclaimed}', id)
-- A worker has the job: it (or its layer job) no longer waits for one.
redis.call('HDEL', KEYS[1], 'waiting_for')
redis.call('HDEL', KEYS[2], 'waiting_for')
local attempts = tonumber(redis.call('HGET', KEYS[1], 'attempts'))
if status == 'running' then
  local expires = redis.call('ZSCORE', KEYS[4], id)
  if expires and tonumber(expires) > now_s() then return {'leased', attempts} end
end
if cancel_requested(KEYS[1], KEYS[2]) then
  settle(KEYS[1], KEYS[3], KEYS[4], status, 'canceled', ARGV[1], '')
  return {'canceled', attempts}
end
-- A refused delivery is not an attempt: the job keeps the count it ran, as when a reaper fails it.
if attempts >= tonumber(ARGV[3]) then
  local reason = ARGV[4]
  if status == 'running' then reason = ARGV[6] end
  settle(KEYS[1], KEYS[3], KEYS[4], status, 'failed', ARGV[1], reason)
  return {'exhausted', attempts}
end
attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
count_move(KEYS[3], KEYS[1], status, 'running')
redis.call('HSET', KEYS[1], 'status', 'running', 'updated_at', ARGV[1], 'worker', ARGV[2],
           'heartbeat_at', ARGV[1])
redis.call('ZADD', KEYS[4], now_s() + tonumber(ARGV[5]), id)
if redis.call('HGET', KEYS[1], 'started_at') == '' then
  redis.call('HSET', KEYS[1], 'started_at', ARGV[1])
end
announce_status(KEYS[1], 'running')
return {'claimed', attempts}
