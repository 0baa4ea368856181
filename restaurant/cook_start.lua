-- Claim an order for cooking and, when this cook may cook it, record its first events: what
-- cook_claim.lua and then ledger.lua do, in one atomic step and one round trip. The two are
-- spliced in ahead of this as the functions `claim` and `advance` (restaurant/claims.py).
--
-- KEYS[1] order hash   KEYS[2] cook lease   KEYS[3..7] ledger.lua's KEYS[2..6]
-- ARGV[1..5] cook_claim.lua's ARGV   ARGV[6..24] ledger.lua's ARGV[3..21]
-- ARGV[25] how much an event's rank grows per delivery
-- ARGV[26..] for each event: its JSON, then its rank at delivery 1
--
-- Each event is recorded as of the delivery the claim counted. Returns the claim's reply,
-- then, only if its verdict is 'cook', ledger.lua's reply for each event.
local verdict = claim({KEYS[1], KEYS[2]}, {ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]})
local replies = {verdict}
if verdict[1] ~= 'cook' then
  return replies
end
local delivery = verdict[3]
local ledger_keys = {KEYS[1], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]}
for i = 26, #ARGV, 2 do
  local event = cjson.decode(ARGV[i])
  event.delivery = delivery
  local rank = tonumber(ARGV[i + 1]) + (delivery - 1) * tonumber(ARGV[25])
  local args = {cjson.encode(event), rank}
  for j = 6, 24 do
    table.insert(args, ARGV[j])
  end
  table.insert(replies, advance(ledger_keys, args))
end
return replies
