-- Moves a job to a status if its status is one of those allowed (and, when given, its attempt
-- count is the attempt's).
-- KEYS: record, status counts, leases
-- ARGV: now, to-status, attempt or '' for any, error JSON or '' for none, allowed statuses...
-- Returns the old status, or false when the move is not allowed.
--#include counts
--#include events
--#include settle
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return false end
local allowed = false
for i = 5, #ARGV do if ARGV[i] == status then allowed = true end end
if not allowed then return false end
if ARGV[3] ~= '' and redis.call('HGET', KEYS[1], 'attempts') ~= ARGV[3] then return false end
local to = ARGV[2]
if finished(to) then
  settle(KEYS[1], KEYS[2], KEYS[3], status, to, ARGV[1], ARGV[4])
  return status
end
count_move(KEYS[2], KEYS[1], status, to)
redis.call('HSET', KEYS[1], 'status', to, 'updated_at', ARGV[1])
if to == 'running' and redis.call('HGET', KEYS[1], 'started_at') == '' then
  redis.call('HSET', KEYS[1], 'started_at', ARGV[1])
end
announce_status(KEYS[1], to)
return status
