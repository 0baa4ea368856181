-- Apply one order event to the ledger and publish it, in one atomic step, but only when it
-- moves the order forward: a late or repeated event changes nothing and is not published.
--
-- KEYS[1] order hash   KEYS[2] history list   KEYS[3] open index   KEYS[4] recent index
-- KEYS[5] dead-letter index (sorted set)     KEYS[6] dead letters (hash: order id -> JSON)
-- ARGV[1] event JSON   ARGV[2] its rank        ARGV[3] retention (s) of a finished order
-- ARGV[4] prefix of the per-table open index   ARGV[5] history length cap
-- ARGV[6] recent index cap                    ARGV[7] '1' if the event may create an order
-- ARGV[8] channel of every event   ARGV[9] of this order   ARGV[10] prefix of the table channels
-- ARGV[11] dead-letter cap
-- ARGV[12] event log (stream)   ARGV[13] its cap   ARGV[14] channel of every ticket's events
-- ARGV[15] prefix of ticket keys  ARGV[16] tickets not served  ARGV[17] served tickets
-- ARGV[18] prefix of a station's cook times   ARGV[19] of its ticket times
-- ARGV[20] prefix of order keys   ARGV[21] seconds the speed figures are kept
--
-- When an order on a ticket finishes (or is sent back, or is added to it), the ticket turns
-- ready once every dish on it is finished, or open again, with its own event.
--
-- A failed order is also filed as a dead letter; a requeued one (sent back by the waiter)
-- leaves the dead letters and may move a failed order back to pending, which nothing else may.
--
-- Returns {seq, status}: seq is 0 when the event was not applied, and status is the order's
-- status after the call ('' for an unknown order).
local order_key, history_key, open_key, recent_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
-- (A script that splices this in may pass the event already decoded.)
local event = type(ARGV[1]) == 'table' and ARGV[1] or cjson.decode(ARGV[1])
local rank = tonumber(ARGV[2])

local dead_index, dead_letters = KEYS[5], KEYS[6]
local requeue = event.event == 'requeued'

local current = redis.call('HMGET', order_key, 'rank', 'status', 'table', 'dish', 'station',
                           'created_at', 'note', 'ticket', 'screen', 'percent')
if not current[1] then
  if ARGV[7] ~= '1' then
    return {0, current[2] or ''}
  end
elseif requeue then
  if current[2] ~= 'failed' then
    return {0, current[2]}
  end
elseif tonumber(current[1]) >= rank then
  return {0, current[2]}
end

-- What the order is does not change: fill in what this event's sender did not know.
if event.table == nil and current[3] then event.table = tonumber(current[3]) end
if event.dish == nil and current[4] then event.dish = current[4] end
if event.station == nil and current[5] then event.station = current[5] end
if event.ticket == nil and current[8] then event.ticket = current[8] end

local seq = redis.call('HINCRBY', order_key, 'seq', 1)
event.seq = seq
local payload = cjson.encode(event)
local created_at = tonumber(current[6]) or event.time
local id = event.order_id

local fields = {'order_id', id, 'status', event.status, 'rank', ARGV[2],
                'created_at', created_at, 'updated_at', event.time,
                'attempt', event.attempt or 0, 'reason', event.reason or ''}
for _, name in ipairs({'table', 'dish', 'station', 'note', 'worker', 'percent', 'rush',
                       'course', 'fire_at', 'ticket', 'addon'}) do
  if event[name] ~= nil then
    table.insert(fields, name)
    table.insert(fields, tostring(event[name]))
  end
end
local screen = current[9]
if not current[1] then
  -- What a screen shows of the order and never changes, as JSON: a board's snapshot of a
  -- thousand tickets sends it as it is instead of reading and encoding each field.
  screen = cjson.encode({dish = event.dish, station = event.station, note = event.note,
                         course = event.course, rush = event.rush, addon = event.addon,
                         created_at = created_at, fire_at = event.fire_at})
  table.insert(fields, 'screen')
  table.insert(fields, screen)
end
redis.call('HSET', order_key, unpack(fields))
if event.ticket and screen then
  -- The order as its ticket's screens show it, kept beside the ticket: a snapshot of the
  -- tickets reads each ticket's dishes in one call. The first entry of an order checks that
  -- the ticket is there: it may open after its dishes' first events (a snapshot then reads
  -- them from their own hashes until their next event), or be long expired.
  local screens_key = ARGV[15] .. event.ticket .. ':screens'
  local percent = event.percent ~= nil and event.percent or current[10]
  local entry = order_member(id, screen, event.status, percent, event.reason)
  if redis.call('HSET', screens_key, id, entry) == 1
      and redis.call('EXISTS', ARGV[15] .. event.ticket) == 0 then
    redis.call('HDEL', screens_key, id)
  end
end
if requeue then
  -- A new round of attempts: its retry budget starts again, and it must be sent anew.
  redis.call('HSET', order_key, 'first_attempt', event.attempt, 'delivery', 0)
  redis.call('HDEL', order_key, 'sent', 'error')
  redis.call('ZREM', dead_index, id)
  redis.call('HDEL', dead_letters, id)
elseif event.error ~= nil then
  redis.call('HSET', order_key, 'error', event.error)
end
redis.call('RPUSH', history_key, payload)
if seq > tonumber(ARGV[5]) then
  redis.call('LTRIM', history_key, -tonumber(ARGV[5]), -1)
end

local table_index = event.table and (ARGV[4] .. event.table)
local retention = tonumber(ARGV[3])
if event.status == 'ready' or event.status == 'failed' or event.status == 'cancelled' then
  redis.call('ZREM', open_key, id)
  if table_index then redis.call('ZREM', table_index, id) end
  redis.call('EXPIRE', order_key, retention)
  redis.call('EXPIRE', history_key, retention)
elseif not current[1] or requeue then
  -- Only a new order, or a failed one sent back, enters the open indexes (by when it was
  -- ordered) and loses its expiry; every later step of an open order finds it there already.
  redis.call('PERSIST', order_key)
  redis.call('PERSIST', history_key)
  redis.call('ZADD', open_key, created_at, id)
  if table_index then redis.call('ZADD', table_index, created_at, id) end
end

if event.status == 'failed' then
  local deliveries = tonumber(redis.call('HGET', order_key, 'delivery') or '0')
  local letter = {order_id = id, table = event.table, dish = event.dish, station = event.station,
                  note = event.note or current[7] or nil, reason = event.reason or '', error = event.error,
                  attempt = event.attempt or 0, deliveries = deliveries, worker = event.worker,
                  created_at = created_at, failed_at = event.time}
  redis.call('ZADD', dead_index, event.time, id)
  redis.call('HSET', dead_letters, id, cjson.encode(letter))
  local excess = redis.call('ZCARD', dead_index) - tonumber(ARGV[11])
  if excess > 0 then
    for _, old in ipairs(redis.call('ZRANGE', dead_index, 0, excess - 1)) do
      redis.call('HDEL', dead_letters, old)
    end
    redis.call('ZREMRANGEBYRANK', dead_index, 0, excess - 1)
  end
end

redis.call('ZADD', recent_key, event.time, id)
if not current[1] then
  -- Only a new order grows the index: trimming it then keeps it within its bounds.
  redis.call('ZREMRANGEBYSCORE', recent_key, '-inf', event.time - retention)
  redis.call('ZREMRANGEBYRANK', recent_key, 0, -tonumber(ARGV[6]) - 1)
end

local log_key, log_cap, ticket_channel = ARGV[12], ARGV[13], ARGV[14]
log_event(log_key, log_cap, 'order', payload)
redis.call('PUBLISH', ARGV[8], payload)
redis.call('PUBLISH', ARGV[9], payload)
if event.table then redis.call('PUBLISH', ARGV[10] .. event.table, payload) end

local final = event.status == 'ready' or event.status == 'failed' or event.status == 'cancelled'
-- A dish joins its ticket when the ticket opens with it (ticket_open.lua), or as an add-on here.
local joining = not current[1] and event.addon
if event.ticket and (final or requeue or joining) then
  local ticket_key = ARGV[15] .. event.ticket
  local dishes_key = ticket_key .. ':dishes'
  local ticket = redis.call('HMGET', ticket_key, 'status', 'created_at')
  if ticket[1] then
    -- Counters of the dishes not finished, on the ticket and at this order's station: each
    -- order enters and leaves the unfinished once per round (a final event is applied once).
    local station_field = 'unfinished:' .. (event.station or '')
    local delta = 0
    if joining then
      redis.call('RPUSH', dishes_key, id)
      keep_ticket_screen(ticket_key)
      delta = final and 0 or 1
    elseif final then
      delta = -1
    elseif requeue then
      delta = 1
    end
    local left, station_left = 0, 0
    if delta ~= 0 then
      left = redis.call('HINCRBY', ticket_key, 'unfinished', delta)
      station_left = redis.call('HINCRBY', ticket_key, station_field, delta)
    else
      left = tonumber(redis.call('HGET', ticket_key, 'unfinished') or '0')
      station_left = tonumber(redis.call('HGET', ticket_key, station_field) or '0')
    end
    local done, station_done = left <= 0, station_left <= 0
    local keep_since = event.time - tonumber(ARGV[21])
    if event.status == 'ready' and event.station and event.cook_seconds then
      local cook_key = ARGV[18] .. event.station
      redis.call('ZADD', cook_key, event.time, id .. ':' .. event.cook_seconds)
    end
    if final and station_done and event.station then
      local times_key = ARGV[19] .. event.station
      local took = event.time - tonumber(ticket[2])
      redis.call('ZADD', times_key, event.time, event.ticket .. ':' .. took)
      -- Once per station per ticket, not per dish: both sets lose what is older than a day.
      redis.call('ZREMRANGEBYSCORE', times_key, '-inf', keep_since)
      redis.call('ZREMRANGEBYSCORE', ARGV[18] .. event.station, '-inf', keep_since)
    end
    if done and ticket[1] == 'open' then
      redis.call('HSET', ticket_key, 'status', 'ready', 'ready_at', event.time)
      ticket_news(ticket_key, 'ready', event.time, log_key, log_cap, ticket_channel)
    elseif not done and ticket[1] ~= 'open' then
      -- A dish added or sent back after the ticket was ready (or even served): open again.
      redis.call('HSET', ticket_key, 'status', 'open')
      redis.call('HDEL', ticket_key, 'ready_at', 'served_at')
      redis.call('PERSIST', ticket_key)
      redis.call('PERSIST', dishes_key)
      redis.call('PERSIST', ticket_key .. ':screens')
      redis.call('ZADD', ARGV[16], tonumber(ticket[2]), event.ticket)
      redis.call('ZREM', ARGV[17], event.ticket)
      ticket_news(ticket_key, 'reopened', event.time, log_key, log_cap, ticket_channel)
    end
  end
end
return {seq, event.status}
