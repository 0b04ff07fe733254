-- Keep predictions where the feedback group can join outcomes to them, and acknowledge.
-- Idempotent: a replayed prediction writes the same keys again.
-- KEYS[1] predictions stream
-- ARGV[1] group, ARGV[2] JSON {ids: [entry ids],
--   predictions: [{key, event, latest_key, ts_ms, id, ttl}]}
-- The latest key holds "<ts_ms> <event id>" of the day's latest prediction for a ticker.
local batch = cjson.decode(ARGV[2])
for _, p in ipairs(batch.predictions) do
  redis.call('SET', p.key, p.event, 'EX', p.ttl)
  local current = redis.call('GET', p.latest_key)
  local current_ms = current and tonumber(string.match(current, '^(%d+)'))
  if not current_ms or current_ms <= p.ts_ms then
    redis.call('SET', p.latest_key, string.format('%d', p.ts_ms) .. ' ' .. p.id, 'EX', p.ttl)
  end
end
for i = 1, #batch.ids, 1000 do
  redis.call('XACK', KEYS[1], ARGV[1], unpack(batch.ids, i, math.min(i + 999, #batch.ids)))
end
return #batch.predictions
