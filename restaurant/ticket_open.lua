-- Open a ticket: one table's order, numbered by the day's counter, with its dishes and how many
-- of them, and of each station's, are unfinished. Opening a ticket that exists (a waiter
-- placing the same keyed order again) changes nothing. The dishes' own `created` events leave
-- the ticket alone (ledger.lua counts a dish out when it finishes), so they may run before it.
--
-- KEYS[1] the day's counter   KEYS[2] ticket hash   KEYS[3] number -> ticket id
-- KEYS[4] tickets not served  KEYS[5] the day's tickets
-- ARGV[1] ticket id   ARGV[2] table   ARGV[3] time   ARGV[4] day (YYYYMMDD)
-- ARGV[5] event log   ARGV[6] its cap   ARGV[7] tickets' channel   ARGV[8] seconds to keep a day
-- ARGV[9..] for each dish: its order id, then its station
--
-- Returns the ticket's number.
local existing = redis.call('HGET', KEYS[2], 'number')
if existing then
  return tonumber(existing)
end
local number = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[8])
redis.call('HSET', KEYS[2], 'ticket_id', ARGV[1], 'number', number, 'table', ARGV[2],
           'status', 'open', 'created_at', ARGV[3], 'day', ARGV[4])
redis.call('HSET', KEYS[3], number, ARGV[1])
local unfinished, ids = {}, {}
for i = 9, #ARGV, 2 do
  table.insert(ids, ARGV[i])
  local field = 'unfinished:' .. ARGV[i + 1]
  unfinished[field] = (unfinished[field] or 0) + 1
end
if #ids > 0 then
  redis.call('RPUSH', KEYS[2] .. ':dishes', unpack(ids))
  redis.call('HSET', KEYS[2], 'unfinished', #ids)
  for field, count in pairs(unfinished) do
    redis.call('HSET', KEYS[2], field, count)
  end
end
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[5], ARGV[3], ARGV[1])
redis.call('EXPIRE', KEYS[5], ARGV[8])
ticket_news(KEYS[2], 'opened', tonumber(ARGV[3]), ARGV[5], ARGV[6], ARGV[7])
return number
