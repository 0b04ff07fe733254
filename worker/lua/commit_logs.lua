-- Commit one batch of the prediction log: mark its events as logged, store the files'
-- new committed lengths and acknowledge its entries, atomically.
-- KEYS[1] source stream, KEYS[2] committed-lengths hash
-- ARGV[1] group, ARGV[2] mark key prefix, ARGV[3] mark ttl (s),
-- ARGV[4] JSON {ids: [entry ids], marks: [event ids], lengths: [file, bytes, ...]}
local batch = cjson.decode(ARGV[4])
for _, event_id in ipairs(batch.marks) do
  redis.call('SET', ARGV[2] .. event_id, '1', 'EX', ARGV[3])
end
for i = 1, #batch.lengths, 2 do
  redis.call('HSET', KEYS[2], batch.lengths[i], string.format('%d', batch.lengths[i + 1]))
end
for i = 1, #batch.ids, 1000 do
  redis.call('XACK', KEYS[1], ARGV[1], unpack(batch.ids, i, math.min(i + 999, #batch.ids)))
end
return #batch.marks
