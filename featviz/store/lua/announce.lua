-- Announces an event of a job (a job's first status, written with its record).
-- KEYS: record
-- ARGV: event type, data JSON
--#include counts
--#include events
announce(KEYS[1], ARGV[1], ARGV[2])
return 1
