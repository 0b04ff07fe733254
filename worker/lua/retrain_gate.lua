-- The retraining gate: decide one request atomically, record the decision.
-- Rules, in order: a duplicate trigger event changes nothing; single flight (no job
-- queued or running, unless it is older than the stale limit); then, unless forced, the
-- interval since the last completed run and the new labelled samples since it; always
-- the daily cap.
-- KEYS[1] state hash, KEYS[2] runs of the last 24 h (zset), KEYS[3] decisions stream,
-- KEYS[4] trigger mark key (only with a trigger event)
-- ARGV[1] now (s), ARGV[2] interval (s), ARGV[3] min new samples, ARGV[4] max per day,
-- ARGV[5] force (0/1), ARGV[6] stale limit (s), ARGV[7] job id, ARGV[8] trigger,
-- ARGV[9] reason, ARGV[10] dry run (0/1), ARGV[11] mark ttl (s),
-- ARGV[12] labelled rows in the training data now (whoever wrote them)
-- Returns {accepted (0/1), why, next_allowed_at ('' if unknown), new_samples}
local now = tonumber(ARGV[1])
local interval, min_samples = tonumber(ARGV[2]), tonumber(ARGV[3])
local max_per_day, force = tonumber(ARGV[4]), ARGV[5] == '1'
local stale, dry_run = tonumber(ARGV[6]), ARGV[10] == '1'

if KEYS[4] and not dry_run then
  if not redis.call('SET', KEYS[4], '1', 'NX', 'EX', ARGV[11]) then
    return {0, 'duplicate trigger event', '', 0}
  end
end

local state = redis.call('HGETALL', KEYS[1])
local s = {}
for i = 1, #state, 2 do s[state[i]] = state[i + 1] end
local labelled = tonumber(ARGV[12])
local new_samples = labelled - tonumber(s.samples_at_last_run or '0')
if new_samples < 0 then new_samples = labelled end  -- the file was replaced since
local day_ago = now - 86400
local runs_today = redis.call('ZCOUNT', KEYS[2], '(' .. day_ago, '+inf')

local accepted, why, next_at = 1, 'accepted', ''
local active_since = tonumber(s.active_since or '0')
if s.active_job and now - active_since < stale then
  accepted, why = 0, 'single flight: job ' .. s.active_job .. ' is queued or running'
elseif not force and s.last_run_at and now - tonumber(s.last_run_at) < interval then
  accepted, why = 0, string.format('interval: last run %.1f h ago, minimum %.1f h',
    (now - tonumber(s.last_run_at)) / 3600, interval / 3600)
  next_at = tonumber(s.last_run_at) + interval
elseif not force and new_samples < min_samples then
  accepted, why = 0, 'samples: ' .. new_samples .. ' new labelled rows, minimum ' .. min_samples
elseif runs_today >= max_per_day then
  local oldest = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. day_ago, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  accepted, why = 0, 'daily cap: ' .. runs_today .. ' runs in the last 24 h, maximum ' .. max_per_day
  next_at = tonumber(oldest[2]) + 86400
end

if dry_run then return {accepted, why, tostring(next_at), new_samples} end

if accepted == 1 then
  redis.call('HSET', KEYS[1], 'active_job', ARGV[7], 'active_since', ARGV[1],
    'active_samples', labelled, 'active_trigger', ARGV[8])
  redis.call('ZADD', KEYS[2], now, ARGV[7])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', day_ago)
else
  redis.call('HSET', KEYS[1], 'last_refusal', cjson.encode({
    at = now, trigger = ARGV[8], reason = ARGV[9], why = why, next_allowed_at = next_at}))
end
redis.call('XADD', KEYS[3], 'MAXLEN', '~', 1000, '*', 'at', ARGV[1], 'accepted', accepted,
  'why', why, 'trigger', ARGV[8], 'reason', ARGV[9], 'job_id', accepted == 1 and ARGV[7] or '',
  'next_allowed_at', tostring(next_at), 'new_samples', new_samples)
return {accepted, why, tostring(next_at), new_samples}
