-- Settles a delivery of a job's run task that stayed unacknowledged past the lease: the worker
-- it went to died before claiming the job, or claimed it and runs it under its lease. The
-- delivery leaves the transport's unacknowledged set (the lease covers a running job, and the
-- broker would only hand the copy out again after its visibility timeout, hours later); a job
-- still queued and never claimed since (no lease: a job a reaper re-queued keeps one, and was
-- sent again with it) gets its task back at the head of the broker's queue, in the same step.
-- KEYS: record, unacked deliveries, unacked index, broker queue, leases
-- ARGV: delivery tag, the delivered message
-- Returns 1 when the task was put back, else 0 (also when another reaper settled it first).
if redis.call('HDEL', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('ZREM', KEYS[3], ARGV[1])
if redis.call('HGET', KEYS[1], 'status') ~= 'queued' then return 0 end
if redis.call('ZSCORE', KEYS[5], redis.call('HGET', KEYS[1], 'id')) then return 0 end
redis.call('RPUSH', KEYS[4], ARGV[2])
return 1
