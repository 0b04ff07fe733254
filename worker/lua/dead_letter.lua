-- Move one stream entry to the dead-letter stream and acknowledge it, atomically.
-- The mark makes it one dead letter per entry, however many groups reject it.
-- KEYS[1] dead stream, KEYS[2] source stream, KEYS[3] mark key
-- ARGV[1] group, ARGV[2] entry id, ARGV[3] dead stream maxlen, ARGV[4] mark ttl (s),
-- ARGV[5..] field/value pairs of the dead letter
if redis.call('SET', KEYS[3], '1', 'NX', 'EX', ARGV[4]) then
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', unpack(ARGV, 5))
end
return redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])
