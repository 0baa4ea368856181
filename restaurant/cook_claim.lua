-- Decide whether this delivery of an order's message may be cooked, in one atomic step.
--
-- KEYS[1] order hash   KEYS[2] cook lease
-- ARGV[1] attempt   ARGV[2] lease token ("<attempt>:<unique>")   ARGV[3] lease (ms)
-- ARGV[4] most deliveries of one attempt   ARGV[5] retention (s) of an order unknown here
--
-- Returns {verdict, detail, delivery, first_attempt}:
--   'finished' (detail: the final status): already ready, failed or cancelled: do not cook.
--   'busy'     (detail: the lease holder): another cook holds this attempt: do not cook yet.
--   'poison'   delivered more than ARGV[4] times: its cooks died each time: fail it.
--   'cook'     the lease is ours: cook it.
local order_key, lease_key = KEYS[1], KEYS[2]
local attempt = tonumber(ARGV[1])

local state = redis.call('HMGET', order_key, 'status', 'delivery_attempt', 'first_attempt')
local status = state[1]
if status == 'ready' or status == 'failed' or status == 'cancelled' then
  return {'finished', status, 0, 0}
end

local holder = redis.call('GET', lease_key)
if holder and holder ~= ARGV[2] then
  -- A lease from an earlier attempt is stale: that cook handed the order back for a retry.
  local held_attempt = tonumber(string.match(holder, '^(%d+):'))
  if held_attempt == nil or held_attempt >= attempt then
    return {'busy', holder, 0, 0}
  end
end

if tonumber(state[2]) ~= attempt then
  redis.call('HSET', order_key, 'delivery_attempt', attempt, 'delivery', 0)
end
local delivery = redis.call('HINCRBY', order_key, 'delivery', 1)
if not status then
  -- The ledger never heard of this order (a message from elsewhere): do not keep it forever.
  redis.call('EXPIRE', order_key, ARGV[5])
end
local first = tonumber(state[3]) or 1
if delivery > tonumber(ARGV[4]) then
  return {'poison', '', delivery, first}
end
redis.call('SET', lease_key, ARGV[2], 'PX', ARGV[3])
return {'cook', '', delivery, first}
