-- Top-level jobs are counted by status, in all and per owner (the owner's queued count caps how
-- much one key may queue); packs count through their layer job. Lease times come from Redis's
-- own clock, so that workers on hosts with skewed clocks agree on when a lease expires.
local function count_move(counts_key, record, from, to)
  if redis.call('HGET', record, 'parent') ~= '' then return end
  local owner = redis.call('HGET', record, 'owner')
  local owner_counts = '${owner_counts_prefix}' .. owner
  local by_status = '${owner_prefix}' .. owner .. ':status:'
  local id = redis.call('HGET', record, 'id')
  redis.call('ZREM', by_status .. from, id)
  redis.call('ZADD', by_status .. to, 0, id)
  redis.call('HINCRBY', counts_key, from, -1)
  redis.call('HINCRBY', counts_key, to, 1)
  redis.call('HINCRBY', owner_counts, from, -1)
  redis.call('HINCRBY', owner_counts, to, 1)
end
local function now_s()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function finished(status)
  return status == 'succeeded' or status == 'failed' or status == 'canceled'
end
