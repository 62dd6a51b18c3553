-- Ends a job in a final status: counted, stamped (with its error, '' for none), its lease
-- dropped, no longer waiting for a claim, and announced.
local function settle(record, counts_key, leases, from, to, now, error)
  count_move(counts_key, record, from, to)
  redis.call('HSET', record, 'status', to, 'updated_at', now, 'finished_at', now)
  redis.call('HDEL', record, 'waiting_for')
  if error ~= '' then redis.call('HSET', record, 'error', error) end
  local id = redis.call('HGET', record, 'id')
  redis.call('ZREM', leases, id)
  redis.call('ZREM', '${unclaimed}', id)
  announce_status(record, to, error)
end
-- Whether the job, or the layer job it belongs to, was asked to stop.
local function cancel_requested(record, parent)
  return redis.call('HGET', record, 'cancel_requested') == '1'
     or redis.call('HGET', parent, 'cancel_requested') == '1'
end
