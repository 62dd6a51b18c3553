-- Settles a job whose lease expired: canceled if asked to stop, failed when its attempts are
-- spent, else queued again, its lease dropped, to wait for a claim (the caller sends its task;
-- should that task be lost, a reaper's audit sends it again: featviz/store/unclaimed.py).
-- KEYS: record, parent record or the record again, status counts, leases
-- ARGV: job id, now, max attempts, worker-lost problem JSON
-- Returns a ReapOutcome (featviz/store/outcomes.py).
--#include counts
--#include events
--#include settle
--#include unclaimed
local expires = redis.call('ZSCORE', KEYS[4], ARGV[1])
if not expires or tonumber(expires) > now_s() then return 'alive' end
local status = redis.call('HGET', KEYS[1], 'status')
if not status or finished(status) then
  redis.call('ZREM', KEYS[4], ARGV[1])
  return 'gone'
end
if cancel_requested(KEYS[1], KEYS[2]) then
  settle(KEYS[1], KEYS[3], KEYS[4], status, 'canceled', ARGV[2], '')
  return 'canceled'
end
if tonumber(redis.call('HGET', KEYS[1], 'attempts')) >= tonumber(ARGV[3]) then
  settle(KEYS[1], KEYS[3], KEYS[4], status, 'failed', ARGV[2], ARGV[4])
  return 'failed'
end
count_move(KEYS[3], KEYS[1], status, 'queued')
redis.call('HSET', KEYS[1], 'status', 'queued', 'updated_at', ARGV[2])
redis.call('ZREM', KEYS[4], ARGV[1])
await_claim(ARGV[1])
announce_status(KEYS[1], 'queued')
return 'requeued'
