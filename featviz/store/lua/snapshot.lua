-- Records a snapshot's image entry on the job that made it, and announces it on the job the user
-- sees (a pack's layer job, else the job itself).
-- KEYS: the making job's snapshots hash, the top-level job's record
-- ARGV: image field, image entry JSON
--#include counts
--#include events
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
announce(KEYS[2], 'snapshot', ARGV[2])
return 1
