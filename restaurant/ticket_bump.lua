-- Serve a ticket at the pass, recall a served one, or check that dishes may be added to it,
-- by its number, in one atomic step: of two people bumping a ticket, one serves it.
--
-- KEYS[1] number -> ticket id   KEYS[2] tickets not served   KEYS[3] served tickets
-- ARGV[1] 'serve', 'recall' or 'addon'   ARGV[2] number   ARGV[3] now
-- ARGV[4] recall window (s)   ARGV[5] seconds a served ticket is kept
-- ARGV[6] event log   ARGV[7] its cap   ARGV[8] tickets' channel   ARGV[9] prefix of ticket keys
--
-- Returns {verdict, ticket id, status, served_at}: verdict 'ok', 'unknown', 'served' (already),
-- 'not_ready', 'not_served' or 'too_late'.
local action, now = ARGV[1], tonumber(ARGV[3])
local id = redis.call('HGET', KEYS[1], ARGV[2])
if not id then
  return {'unknown', '', '', ''}
end
local ticket_key = ARGV[9] .. id
local dishes_key = ticket_key .. ':dishes'
local t = redis.call('HMGET', ticket_key, 'status', 'served_at', 'created_at')
local status, served_at = t[1], t[2] or ''
if not status then
  return {'unknown', id, '', ''}
end

if action == 'serve' then
  if status == 'served' then
    return {'served', id, status, served_at}
  elseif status ~= 'ready' then
    return {'not_ready', id, status, ''}
  end
  redis.call('HSET', ticket_key, 'status', 'served', 'served_at', ARGV[3])
  redis.call('ZREM', KEYS[2], id)
  redis.call('ZADD', KEYS[3], now, id)
  redis.call('EXPIRE', ticket_key, ARGV[5])
  redis.call('EXPIRE', dishes_key, ARGV[5])
  redis.call('EXPIRE', ticket_key .. ':screens', ARGV[5])
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - tonumber(ARGV[5]))
  ticket_news(ticket_key, 'served', now, ARGV[6], ARGV[7], ARGV[8])
  return {'ok', id, 'served', ARGV[3]}
elseif action == 'recall' then
  if status ~= 'served' then
    return {'not_served', id, status, ''}
  elseif now - tonumber(served_at) > tonumber(ARGV[4]) then
    return {'too_late', id, status, served_at}
  end
  -- Every dish of a served ticket is finished: it comes back to the pass as ready.
  redis.call('HSET', ticket_key, 'status', 'ready', 'recalled_at', ARGV[3])
  redis.call('HDEL', ticket_key, 'served_at')
  redis.call('PERSIST', ticket_key)
  redis.call('PERSIST', dishes_key)
  redis.call('PERSIST', ticket_key .. ':screens')
  redis.call('ZREM', KEYS[3], id)
  redis.call('ZADD', KEYS[2], t[3], id)
  ticket_news(ticket_key, 'recalled', now, ARGV[6], ARGV[7], ARGV[8])
  return {'ok', id, 'ready', ''}
end
if status == 'served' then
  return {'served', id, status, served_at}
end
return {'ok', id, status, ''}
