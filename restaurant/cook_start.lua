-- Claim an order for cooking and, when this cook may cook it, record its first events: what
-- cook_claim.lua and then ledger.lua do, in one atomic step and one round trip. The two are
-- spliced in ahead of this as the functions `claim` and `advance` (restaurant/claims.py).
-- A dish cooked before its claim (one done in no time) claims it with its last event, `ready`,
-- and its result, so that a dish is one round trip in all.
--
-- KEYS[1] order hash   KEYS[2] cook lease   KEYS[3..7] ledger.lua's KEYS[2..6]
-- ARGV[1..5] cook_claim.lua's ARGV   ARGV[6..24] ledger.lua's ARGV[3..21]
-- ARGV[25] the result's key ('' for none)   ARGV[26], ARGV[27] its text before and after the
-- delivery number   ARGV[28] its expiry in seconds (0 for none)
-- ARGV[29..] for each event: its JSON, its rank at delivery 1, its rank's growth per delivery
--
-- Each event is recorded as of the delivery the claim counted. The result is written (and
-- published on its key, as Celery's Redis backend does) only if the last event made the order
-- ready. Returns the claim's reply, then, only if its verdict is 'cook', ledger.lua's reply for
-- each event.
local verdict = claim({KEYS[1], KEYS[2]}, {ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]})
local replies = {verdict}
if verdict[1] ~= 'cook' then
  return replies
end
local delivery = verdict[3]
local ledger_keys = {KEYS[1], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]}
local last
for i = 29, #ARGV, 3 do
  local event = cjson.decode(ARGV[i])
  event.delivery = delivery
  local rank = tonumber(ARGV[i + 1]) + (delivery - 1) * tonumber(ARGV[i + 2])
  local args = {event, rank}
  for j = 6, 24 do
    table.insert(args, ARGV[j])
  end
  last = advance(ledger_keys, args)
  table.insert(replies, last)
end
if ARGV[25] ~= '' and last and last[1] ~= 0 and last[2] == 'ready' then
  local value = ARGV[26] .. delivery .. ARGV[27]
  if tonumber(ARGV[28]) > 0 then
    redis.call('SETEX', ARGV[25], ARGV[28], value)
  else
    redis.call('SET', ARGV[25], value)
  end
  redis.call('PUBLISH', ARGV[25], value)
end
return replies
