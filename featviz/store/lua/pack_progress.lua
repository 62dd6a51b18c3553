-- Raises a pack's furthest iteration and adds what it gained to its layer job's progress, so a
-- rerun pack adds nothing until it passes where its earlier attempt got to; the layer job's new
-- progress is announced.
-- KEYS: layer job record, layer job's pack-progress hash
-- ARGV: pack id, the pack's iteration
-- Returns the iterations added.
--#include counts
--#include events
local before = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
local now = tonumber(ARGV[2])
if now <= before then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], now)
local iteration = redis.call('HINCRBY', KEYS[1], 'progress_iteration', now - before)
local total = redis.call('HGET', KEYS[1], 'progress_total')
announce(KEYS[1], 'progress', '{"iteration":' .. iteration .. ',"total":' .. total .. '}')
return now - before
