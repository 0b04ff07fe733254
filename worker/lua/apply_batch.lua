-- Apply one batch of a consumer group and acknowledge it, in one atomic step.
-- Each event counts once: its idempotency mark is set in the same step as its counters.
-- The counters come summed over the batch (worker/consumer/effects.py), which is right
-- only if no event of it is marked yet: so every mark is checked first, and if any is set
-- the script writes nothing and returns the positions of those events; the caller sums
-- the batch again without them and calls again. Files appended for the batch are
-- committed here too, by storing their new lengths.
-- KEYS[1] source stream, KEYS[2] recent list (unused when recent is empty),
-- KEYS[3] committed file lengths (hash), KEYS[4] Page-Hinkley state (hash; unused when
-- detector is empty)
-- ARGV[1] group, ARGV[2] mark ttl (s), ARGV[3] recent cap,
-- ARGV[4] MessagePack {ids: [entry ids], hashes: [[key, ttl_s]], marks: [set keys],
--   mark_cap, events: [k, o, m, k, o, m, ...], totals: [[hash, [field, amount, ...]]],
--   recent: [lines], detector: [values], lengths: [file, bytes, ...], ph_delta}
--   k, o, m per event: its idempotency mark is member m (text) of marks[k], the first set
--   of its second, or when that holds mark_cap members, of its overflow set marks[o]
--   (worker/consumer/marks.py); totals: what the batch adds to each hash (an index into
--   hashes); recent: lines for the recent list, oldest first (the newest `cap` are kept);
--   detector: values for the Page-Hinkley change detector, in event order
local function call_chunked(command, key, first, items, from)
  -- unpack() is bounded by Lua's C stack, so long argument lists go in chunks
  for i = from, #items, 1000 do
    local last = math.min(i + 999, #items)
    if first then
      redis.call(command, key, first, unpack(items, i, last))
    else
      redis.call(command, key, unpack(items, i, last))
    end
  end
end

local batch = cmsgpack.unpack(ARGV[4])
local cap = tonumber(ARGV[3])
local keys_of = batch.marks
local events = batch.events
-- which marks are set already: per second of event time, its first set, and its overflow
-- sets only when the first is full (only then do they hold any)
local seen = {}
local function check(k, members)
  local set = seen[k]
  if not set then set = {}; seen[k] = set end
  for i = 1, #members, 1000 do
    local last = math.min(i + 999, #members)
    local found = redis.call('SMISMEMBER', keys_of[k], unpack(members, i, last))
    for j = i, last do
      if found[j - i + 1] == 1 then set[members[j]] = true end
    end
  end
end
local of_main = {}
for i = 1, #events, 3 do
  local k = events[i]
  local group = of_main[k]
  if not group then group = {}; of_main[k] = group end
  group[#group + 1] = i
end
local size = {}
for k, group in pairs(of_main) do
  size[k] = redis.call('SCARD', keys_of[k])
  local members = {}
  for n, i in ipairs(group) do members[n] = events[i + 2] end
  check(k, members)
  if size[k] >= batch.mark_cap then
    local of_overflow = {}
    for _, i in ipairs(group) do
      local o = events[i + 1]
      local list = of_overflow[o]
      if not list then list = {}; of_overflow[o] = list end
      list[#list + 1] = events[i + 2]
    end
    for o, list in pairs(of_overflow) do check(o, list) end
  end
end
local marked = {}
for i = 1, #events, 3 do
  local over = seen[events[i + 1]]
  local m = events[i + 2]
  if seen[events[i]][m] or (over and over[m]) then marked[#marked + 1] = (i + 2) / 3 end
end
if #marked > 0 then return marked end

local added = {}
local renew = {}
for i = 1, #events, 3 do
  local k, m = events[i], events[i + 2]
  local into = events[i + 1]
  if size[k] < batch.mark_cap then into = k; size[k] = size[k] + 1 end
  local new = added[into]
  if not new then new = {}; added[into] = new end
  new[#new + 1] = m
  renew[k] = true  -- the first set outlives its overflow sets
end
for k, new in pairs(added) do
  call_chunked('SADD', keys_of[k], nil, new, 1)
  renew[k] = true
end
for k in pairs(renew) do redis.call('EXPIRE', keys_of[k], ARGV[2]) end
if #batch.detector > 0 then
  -- Page-Hinkley, both directions: cumulative deviations from the running mean, which
  -- starts from the baseline's mean with the weight of its prior_n confidences
  -- (worker/drift/page_hinkley.py is the reference)
  local st = {n = 0, prior_n = 0, mean = 0, up_sum = 0, up_min = 0, down_sum = 0, down_max = 0}
  local stored = redis.call('HGETALL', KEYS[4])
  for i = 1, #stored, 2 do st[stored[i]] = tonumber(stored[i + 1]) end
  local delta = tonumber(batch.ph_delta)
  for _, x in ipairs(batch.detector) do
    st.n = st.n + 1
    st.mean = st.mean + (x - st.mean) / (st.n + st.prior_n)
    st.up_sum = st.up_sum + x - st.mean - delta
    if st.up_sum < st.up_min then st.up_min = st.up_sum end
    st.down_sum = st.down_sum + x - st.mean + delta
    if st.down_sum > st.down_max then st.down_max = st.down_sum end
  end
  redis.call('HSET', KEYS[4], 'n', st.n, 'prior_n', st.prior_n, 'mean', string.format('%.17g', st.mean),
    'up_sum', string.format('%.17g', st.up_sum), 'up_min', string.format('%.17g', st.up_min),
    'down_sum', string.format('%.17g', st.down_sum), 'down_max', string.format('%.17g', st.down_max))
end
for _, total in ipairs(batch.totals) do
  local key, ttl = batch.hashes[total[1]][1], batch.hashes[total[1]][2]
  local amounts = total[2]
  for i = 1, #amounts, 2 do
    redis.call('HINCRBY', key, amounts[i], string.format('%d', amounts[i + 1]))
  end
  if ttl > 0 then redis.call('EXPIRE', key, ttl) end
end
local recent = batch.recent
if #recent > 0 then
  call_chunked('LPUSH', KEYS[2], nil, recent, math.max(1, #recent - cap + 1))
  redis.call('LTRIM', KEYS[2], 0, cap - 1)
end
if #batch.lengths > 0 then
  local pairs_ = {}
  for i = 1, #batch.lengths, 2 do
    pairs_[i] = batch.lengths[i]
    pairs_[i + 1] = string.format('%d', batch.lengths[i + 1])
  end
  redis.call('HSET', KEYS[3], unpack(pairs_))
end
call_chunked('XACK', KEYS[1], ARGV[1], batch.ids, 1)
return #events / 3
