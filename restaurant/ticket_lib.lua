-- Helpers shared by the ledger's and the tickets' scripts, spliced in ahead of each.

-- A hash as a Lua table (field -> value).
local function hash_of(key)
  local flat = redis.call('HGETALL', key)
  local result = {}
  for i = 1, #flat, 2 do
    result[flat[i]] = flat[i + 1]
  end
  return result
end

-- Append one event to the capped event log: entry ids are what readers resume from.
local function log_event(log_key, cap, kind, payload)
  return redis.call('XADD', log_key, 'MAXLEN', '~', cap, '*', 'k', kind, 'e', payload)
end

-- A stored number as JSON, exactly as stored (times keep every digit), or null.
local function json_number(raw)
  if raw and string.find(raw, '^%-?%d[%d.eE+-]*$') and tonumber(raw) then return raw end
  return 'null'
end

-- A ticket as a screen shows it, as JSON: its number, table, status and times, and its dishes.
local function ticket_json(t, dishes)
  return '{"ticket_id":' .. cjson.encode(t.ticket_id or '') .. ',"number":' .. json_number(t.number)
    .. ',"table":' .. json_number(t.table) .. ',"status":' .. cjson.encode(t.status or 'open')
    .. ',"created_at":' .. json_number(t.created_at) .. ',"ready_at":' .. json_number(t.ready_at)
    .. ',"served_at":' .. json_number(t.served_at)
    .. ',"recalled_at":' .. json_number(t.recalled_at)
    .. ',"dishes":' .. (#dishes > 0 and cjson.encode(dishes) or '[]') .. '}'
end

-- Keep the ticket's JSON for screens in its hash (`screen`, with `dish_count`), rewritten
-- whenever the ticket or its list of dishes changes: a snapshot sends it as it is.
local function keep_ticket_screen(ticket_key)
  local t = hash_of(ticket_key)
  local dishes = redis.call('LRANGE', ticket_key .. ':dishes', 0, -1)
  redis.call('HSET', ticket_key, 'screen', ticket_json(t, dishes), 'dish_count', #dishes)
  return t
end

-- Announce a ticket's change (`name`) in the log and on the tickets' channel.
local function ticket_news(ticket_key, name, now, log_key, cap, channel)
  local t = keep_ticket_screen(ticket_key)
  local news = {v = 1, kind = 'ticket', event = name, ticket_id = t.ticket_id,
                number = tonumber(t.number), table = tonumber(t.table), status = t.status,
                time = now, created_at = tonumber(t.created_at),
                ready_at = tonumber(t.ready_at), served_at = tonumber(t.served_at),
                recalled_at = tonumber(t.recalled_at)}
  local payload = cjson.encode(news)
  log_event(log_key, cap, 'ticket', payload)
  redis.call('PUBLISH', channel, payload)
end

-- What a screen shows of one order, as JSON: its unchanging part (`screen`, stored by the ledger
-- when the order is created) with its status, how much of it is cooked, and why it stopped.
local function screen_entry(screen, status, percent, reason)
  local body = string.sub(screen, 1, -2)
  local tail = '}'
  if reason and reason ~= '' then tail = ',"reason":' .. cjson.encode(reason) .. tail end
  local done = tonumber(percent)
  if done then tail = ',"percent":' .. math.floor(done) .. tail end
  return body .. (body == '{' and '' or ',') .. '"status":' .. cjson.encode(status) .. tail
end

-- The same as a member of the snapshot's orders object: `"<order id>":{...}`.
local function order_member(order_id, screen, status, percent, reason)
  return cjson.encode(order_id) .. ':' .. screen_entry(screen, status, percent, reason)
end
