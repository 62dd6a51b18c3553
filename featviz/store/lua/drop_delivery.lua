-- Drops a delivery of a job's run task that stayed unacknowledged past the lease: the worker it
-- went to died before claiming the job, or claimed it and runs it under its lease (the broker
-- would hand the copy out again only after its visibility timeout, hours later). A job still
-- waiting for a claim is due for the next audit at once (score 0: not known to wait anywhere),
-- which sends its task again unless another copy waits in the broker (a job a reaper re-queued
-- was sent again with it): featviz/store/unclaimed.py.
-- KEYS: unacked deliveries, unacked index, unclaimed
-- ARGV: delivery tag, job id
-- Returns 1 when the job waits for a claim (and is audited next), else 0 (also when another
-- reaper dropped the delivery first).
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
if not redis.call('ZSCORE', KEYS[3], ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[3], 0, ARGV[2])
return 1
