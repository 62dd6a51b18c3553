-- A queued job whose run task was sent waits for a worker's claim in ${unclaimed}, scored by
-- when it was last known to wait (featviz/store/unclaimed.py): when the task was sent, or when a
-- reaper's audit saw it in the broker. The claim, and a final status, take it out.
local function await_claim(id)
  redis.call('ZADD', '${unclaimed}', now_s(), id)
end
