-- Admit feature names into the monitored set, up to a cap, atomically: every worker
-- agrees on the set, and it never holds more than the cap however many names arrive.
-- KEYS[1] the monitored set; ARGV[1] cap; ARGV[2..] names, in the order offered.
-- Returns 1 (monitored) or 0 (beyond the cap) per name.
local cap = tonumber(ARGV[1])
local size = redis.call('SCARD', KEYS[1])
local out = {}
for i = 2, #ARGV do
  if redis.call('SISMEMBER', KEYS[1], ARGV[i]) == 1 then
    out[#out + 1] = 1
  elseif size < cap then
    redis.call('SADD', KEYS[1], ARGV[i])
    size = size + 1
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
