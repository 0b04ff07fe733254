-- Put a dead letter back on its original stream, once: a second replay of the same
-- letter returns the entry it made the first time.
-- KEYS[1] replayed hash (dead letter id -> new entry id), KEYS[2] original stream
-- ARGV[1] dead letter id, ARGV[2] stream maxlen, ARGV[3..] the original field/value pairs
local done = redis.call('HGET', KEYS[1], ARGV[1])
if done then return {0, done} end
local new_id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 3))
redis.call('HSET', KEYS[1], ARGV[1], new_id)
return {1, new_id}
