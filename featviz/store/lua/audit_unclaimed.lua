-- Settles the audit of a job that waits for a claim: its run task was seen in the broker (queued
-- or delivered) or still waits in the outbox, so it waits on; or it is nowhere, lost on the way
-- (a worker killed after the broker's pop and before the transport noted the delivery), and the
-- caller sends it again. Either way the job is known to wait from now.
-- KEYS: record, unclaimed, outbox
-- ARGV: job id, lease seconds, 1 when its run task was seen in the broker else 0, its run task's outbox entry
-- Returns an AuditOutcome (featviz/store/outcomes.py).
--#include counts
--#include unclaimed
local since = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not since then return 'gone' end
if tonumber(since) > now_s() - tonumber(ARGV[2]) then return 'not_due' end
if redis.call('HGET', KEYS[1], 'status') ~= 'queued' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 'gone'
end
await_claim(ARGV[1])
if ARGV[3] == '1' or redis.call('ZSCORE', KEYS[3], ARGV[4]) then return 'waiting' end
return 'resend'
