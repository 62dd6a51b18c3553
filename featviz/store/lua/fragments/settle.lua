-- Ends a job in a final status: counted, stamped, and its lease dropped.
local function settle(record, counts_key, leases, from, to, now)
  count_move(counts_key, record, from, to)
  redis.call('HSET', record, 'status', to, 'updated_at', now, 'finished_at', now)
  redis.call('HDEL', record, 'waiting_for')
  redis.call('ZREM', leases, redis.call('HGET', record, 'id'))
end
-- Whether the job, or the layer job it belongs to, was asked to stop.
local function cancel_requested(record, parent)
  return redis.call('HGET', record, 'cancel_requested') == '1'
     or redis.call('HGET', parent, 'cancel_requested') == '1'
end
