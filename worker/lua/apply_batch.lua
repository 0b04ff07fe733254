-- Apply one batch of a consumer group and acknowledge it, in one atomic step.
-- Each event counts once: its idempotency mark is set in the same step as its counters,
-- so a redelivered or re-published event changes nothing. Files appended for the batch
-- are committed here too, by storing their new lengths.
-- KEYS[1] source stream, KEYS[2] recent list (unused when no event carries r),
-- KEYS[3] committed file lengths (hash), KEYS[4] Page-Hinkley state (hash; unused when
-- no event carries p)
-- ARGV[1] group, ARGV[2] mark ttl (s), ARGV[3] recent cap,
-- ARGV[4] MessagePack {ids: [entry ids], hashes: [[key, ttl_s]], lengths: [file, bytes, ...],
--   marks: [set keys], mark_cap, events: [{k, o, m, h, f, n, r, p}], ph_delta}
--   k, o, m: the event's idempotency mark: member m (text) of marks[k], the first set of
--   its second, or when that holds mark_cap members, of its overflow set marks[o]
--   (worker/consumer/marks.py); h: indices into hashes; f: fields to add 1 to;
--   n: {field: integer to add};
--   r: a line for the recent list (sent for the newest new events; the newest `cap`
--      of those applied are kept);
--   p: a value for the Page-Hinkley change detector, fed in event order
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
local totals = {}
local recent = {}
local detector_values = {}
local applied = 0
-- which marks are set already (worker/consumer/marks.py): per second of event time, its
-- first set, and its overflow sets only when the first is full (only then do they hold any)
local keys_of = batch.marks
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
for _, ev in ipairs(batch.events) do
  local group = of_main[ev.k]
  if not group then group = {}; of_main[ev.k] = group end
  group[#group + 1] = ev
end
local size = {}
for k, group in pairs(of_main) do
  size[k] = redis.call('SCARD', keys_of[k])
  local members = {}
  for i, ev in ipairs(group) do members[i] = ev.m end
  check(k, members)
  if size[k] >= batch.mark_cap then
    local of_overflow = {}
    for _, ev in ipairs(group) do
      local list = of_overflow[ev.o]
      if not list then list = {}; of_overflow[ev.o] = list end
      list[#list + 1] = ev.m
    end
    for o, list in pairs(of_overflow) do check(o, list) end
  end
end
local added = {}
local renew = {}
for _, ev in ipairs(batch.events) do
  local over = seen[ev.o]
  if not (seen[ev.k][ev.m] or (over and over[ev.m])) then
    seen[ev.k][ev.m] = true  -- a second copy in the same batch counts as seen
    local into = ev.o
    if size[ev.k] < batch.mark_cap then into = ev.k; size[ev.k] = size[ev.k] + 1 end
    local new = added[into]
    if not new then new = {}; added[into] = new end
    new[#new + 1] = ev.m
    renew[ev.k] = true  -- the first set outlives its overflow sets
    applied = applied + 1
    for _, h in ipairs(ev.h) do
      local acc = totals[h]
      if not acc then acc = {}; totals[h] = acc end
      for _, field in ipairs(ev.f) do acc[field] = (acc[field] or 0) + 1 end
      if ev.n then
        for field, amount in pairs(ev.n) do acc[field] = (acc[field] or 0) + amount end
      end
    end
    if ev.r then recent[#recent + 1] = ev.r end
    if ev.p then detector_values[#detector_values + 1] = ev.p end
  end
end
for k, new in pairs(added) do
  call_chunked('SADD', keys_of[k], nil, new, 1)
  renew[k] = true
end
for k in pairs(renew) do redis.call('EXPIRE', keys_of[k], ARGV[2]) end
if #detector_values > 0 then
  -- Page-Hinkley, both directions: cumulative deviations from the running mean, which
  -- starts from the baseline's mean with the weight of its prior_n confidences
  -- (worker/drift/page_hinkley.py is the reference)
  local st = {n = 0, prior_n = 0, mean = 0, up_sum = 0, up_min = 0, down_sum = 0, down_max = 0}
  local stored = redis.call('HGETALL', KEYS[4])
  for i = 1, #stored, 2 do st[stored[i]] = tonumber(stored[i + 1]) end
  local delta = tonumber(batch.ph_delta)
  for _, x in ipairs(detector_values) do
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
for h, acc in pairs(totals) do
  local key, ttl = batch.hashes[h][1], batch.hashes[h][2]
  for field, amount in pairs(acc) do
    redis.call('HINCRBY', key, field, string.format('%d', amount))
  end
  if ttl > 0 then redis.call('EXPIRE', key, ttl) end
end
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
return applied
