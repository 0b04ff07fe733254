-- Keep predictions where the feedback group can join outcomes to them, and acknowledge.
-- Idempotent: a replayed prediction writes the same fields again.
-- KEYS[1] predictions stream
-- ARGV[1] group, ARGV[2] days D, ARGV[3] predictions P, then D times
--   (predictions hash, latest hash, ttl_s), then P times
--   (day number, event id, packed prediction, ticker, ts_ms), then the entry ids
-- (worker/groups/feedback_index.py; flat arguments, since the packed predictions are
-- binary). A day's latest hash holds, per ticker, "<ts_ms> <event id>" of its latest
-- prediction that day.
local days, count = tonumber(ARGV[2]), tonumber(ARGV[3])
local fields_of = {}
local latest_of = {}
local first = 4 + 3 * days
for n = 0, count - 1 do
  local at = first + 5 * n
  local d, id, ticker, ts_ms = tonumber(ARGV[at]), ARGV[at + 1], ARGV[at + 3], tonumber(ARGV[at + 4])
  local fields = fields_of[d]
  if not fields then fields = {}; fields_of[d] = fields; latest_of[d] = {} end
  fields[#fields + 1] = id
  fields[#fields + 1] = ARGV[at + 2]
  local best = latest_of[d][ticker]
  if not best or best[1] <= ts_ms then latest_of[d][ticker] = {ts_ms, id} end
end
for d, fields in pairs(fields_of) do
  local day = {ARGV[1 + 3 * d], ARGV[2 + 3 * d], ARGV[3 + 3 * d]}
  for i = 1, #fields, 1000 do
    redis.call('HSET', day[1], unpack(fields, i, math.min(i + 999, #fields)))
  end
  local tickers = {}
  for ticker in pairs(latest_of[d]) do tickers[#tickers + 1] = ticker end
  local current = {}
  for i = 1, #tickers, 1000 do
    local part = redis.call('HMGET', day[2], unpack(tickers, i, math.min(i + 999, #tickers)))
    for j, value in ipairs(part) do current[i + j - 1] = value end
  end
  local newer = {}
  for i, ticker in ipairs(tickers) do
    local best = latest_of[d][ticker]
    local current_ms = current[i] and tonumber(string.match(current[i], '^(%d+)'))
    if not current_ms or current_ms <= best[1] then
      newer[#newer + 1] = ticker
      newer[#newer + 1] = string.format('%d', best[1]) .. ' ' .. best[2]
    end
  end
  for i = 1, #newer, 1000 do  -- pairs, in chunks: unpack() is bounded by Lua's C stack
    redis.call('HSET', day[2], unpack(newer, i, math.min(i + 999, #newer)))
  end
  redis.call('EXPIRE', day[1], day[3])
  redis.call('EXPIRE', day[2], day[3])
end
for i = first + 5 * count, #ARGV, 1000 do
  redis.call('XACK', KEYS[1], ARGV[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
return count
