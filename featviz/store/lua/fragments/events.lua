-- Every top-level job has one ordered event stream (featviz/events.py): its status changes,
-- progress and snapshots, the newest ${events_cap} kept. An event the job's webhook asks for
-- also goes in the webhook outbox in the same step, so that none is lost between the two.
-- Packs have no stream: their layer job announces what the user sees.
local function announce(record, kind, data)
  if redis.call('HGET', record, 'parent') ~= '' then return end
  local id = redis.call('XADD', record .. ':events', 'MAXLEN', '~', ${events_cap}, '*',
                        'type', kind, 'data', data)
  local wanted = redis.call('HGET', record, 'webhook_events')
  if wanted and string.find(',' .. wanted .. ',', ',' .. kind .. ',', 1, true) then
    local delivery = redis.call('HGET', record, 'id') .. '/' .. id
    redis.call('HSET', '${webhook_payloads}', delivery, '{"type":"' .. kind .. '","data":' .. data .. '}')
    redis.call('ZADD', '${webhook_due}', now_s(), delivery)
    redis.call('HINCRBY', record, 'webhook_pending', 1)
  end
end
-- A status change as its event: a final status is announced by its own name.
local terminal_events = {succeeded = 'completed', failed = 'failed', canceled = 'canceled'}
local function announce_status(record, to, error)
  local data = '{"status":"' .. to .. '"'
  if error and error ~= '' then data = data .. ',"error":' .. error end
  announce(record, terminal_events[to] or 'status', data .. '}')
end
