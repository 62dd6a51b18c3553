-- Takes the jobs due for an audit: waiting for a claim, and not known to wait anywhere for
-- longer than the lease. One reaper audits at a time: taking some holds the audit for a lease,
-- so the fleet reads the broker's queue at most once a lease however many reapers it runs.
-- KEYS: unclaimed, audit hold
-- ARGV: lease seconds, how many at most
-- Returns the ids to audit: none while another reaper's audit holds, or when none is due.
--#include counts
if redis.call('EXISTS', KEYS[2]) == 1 then return {} end
local lease = tonumber(ARGV[1])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_s() - lease, 'LIMIT', 0,
                       tonumber(ARGV[2]))
if #due > 0 then redis.call('SET', KEYS[2], '1', 'PX', math.ceil(lease * 1000)) end
return due
