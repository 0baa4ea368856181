-- Open a ticket: one table's order, numbered by the day's counter. Opening a ticket that
-- exists (a waiter placing the same keyed order again) changes nothing.
--
-- KEYS[1] the day's counter   KEYS[2] ticket hash   KEYS[3] number -> ticket id
-- KEYS[4] tickets not served  KEYS[5] the day's tickets
-- ARGV[1] ticket id   ARGV[2] table   ARGV[3] time   ARGV[4] day (YYYYMMDD)
-- ARGV[5] event log   ARGV[6] its cap   ARGV[7] tickets' channel   ARGV[8] seconds to keep a day
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
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[5], ARGV[3], ARGV[1])
redis.call('EXPIRE', KEYS[5], ARGV[8])
ticket_news(KEYS[2], 'opened', tonumber(ARGV[3]), ARGV[5], ARGV[6], ARGV[7])
return number
