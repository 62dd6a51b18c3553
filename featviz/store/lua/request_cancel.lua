-- Marks a job to stop; a queued job is canceled at once.
-- KEYS: record, status counts, leases
-- ARGV: now
-- Returns the status after the call, or false when the job does not exist.
--#include counts
--#include events
--#include settle
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return false end
if finished(status) then return status end
redis.call('HSET', KEYS[1], 'cancel_requested', '1', 'updated_at', ARGV[1])
if status == 'queued' then
  settle(KEYS[1], KEYS[2], KEYS[3], 'queued', 'canceled', ARGV[1], '')
  return 'canceled'
end
return status
