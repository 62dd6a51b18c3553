-- A pack (or shard) that ends counts its filters (or images) on its layer (or exemplar) job in
-- the same step, once: counted in a later call, a worker killed between the two would leave the
-- layer job waiting for a count that never comes. The last pack puts the layer job's finish
-- task in the outbox (featviz/outbox.py), for the worker or, should it die, the reapers to send.
local function count_on_layer_job(record, to)
  local parent = redis.call('HGET', record, 'parent')
  if parent == '' then return end
  local layer_job = '${job_prefix}' .. parent
  local counted = layer_job .. '${counted_packs_suffix}'
  if redis.call('SADD', counted, redis.call('HGET', record, 'id')) == 0 then return end
  local spec = cjson.decode(redis.call('HGET', record, 'spec'))
  local units
  if type(spec.images) == 'table' then
    units = spec.images.stop - spec.images.start
  else
    units = #spec.filters
  end
  redis.call('HINCRBY', layer_job, 'count_' .. to, units)
  if redis.call('SCARD', counted) == tonumber(redis.call('HGET', layer_job, 'packs_total')) then
    redis.call('ZADD', '${outbox}', now_s(), '${finish_entry_prefix}' .. parent)
  end
end
-- Ends a job in a final status: counted, stamped (with its error, '' for none), its lease
-- dropped, no longer waiting for a claim, and announced.
local function settle(record, counts_key, leases, from, to, now, error)
  count_move(counts_key, record, from, to)
  count_on_layer_job(record, to)
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
