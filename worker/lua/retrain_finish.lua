-- A retraining job ends: free the single-flight slot it holds and record the run.
-- A completed run (promoted, rejected or no change) starts the interval and uses up the
-- labelled rows it read (or those counted when it was accepted); a failed run does neither.
-- KEYS[1] state hash
-- ARGV[1] job id, ARGV[2] completed (0/1), ARGV[3] now (s), ARGV[4] run summary (JSON),
-- ARGV[5] rows the run read ('' if unknown), ARGV[6] sha256 of its training data ('' if unknown)
if redis.call('HGET', KEYS[1], 'active_job') ~= ARGV[1] then return 0 end
if ARGV[2] == '1' then
  local samples = ARGV[5]
  if samples == '' then samples = redis.call('HGET', KEYS[1], 'active_samples') or '0' end
  redis.call('HSET', KEYS[1], 'last_run_at', ARGV[3], 'samples_at_last_run', samples)
  if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'data_sha256_at_last_run', ARGV[6]) end
  redis.call('HINCRBY', KEYS[1], 'runs_completed', 1)
else
  redis.call('HINCRBY', KEYS[1], 'runs_failed', 1)
end
redis.call('HSET', KEYS[1], 'last_run', ARGV[4])
redis.call('HDEL', KEYS[1], 'active_job', 'active_since', 'active_samples', 'active_trigger',
  'active_started')
return 1
