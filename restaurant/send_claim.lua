-- Claim the right to send an order's message, so that of two waiters only one sends it.
--
-- KEYS[1] order hash   KEYS[2] sending lease   ARGV[1] token   ARGV[2] lease (s)
--
-- Returns 'sent' when the message was already sent (or the order is past pending), 'mine' when this waiter should send it
-- now, or 'busy' when another waiter is sending it.
local state = redis.call('HMGET', KEYS[1], 'sent', 'status')
if state[1] or (state[2] and state[2] ~= 'pending') then
  return 'sent'
end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'EX', ARGV[2]) then
  return 'mine'
end
return 'busy'
