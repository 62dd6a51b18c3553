-- Records a job's progress and announces it.
-- KEYS: record
-- ARGV: now, iteration, total
--#include counts
--#include events
redis.call('HSET', KEYS[1], 'progress_iteration', ARGV[2], 'progress_total', ARGV[3],
           'updated_at', ARGV[1])
announce(KEYS[1], 'progress', '{"iteration":' .. ARGV[2] .. ',"total":' .. ARGV[3] .. '}')
return 1
