-- Everything a kitchen screen shows, read in one atomic step with the id of the event log's
-- newest entry: the events after that id are exactly what the snapshot does not hold.
--
-- KEYS[1] event log   KEYS[2] tickets not served   KEYS[3] served tickets
-- ARGV[1] served since (time)   ARGV[2] prefix of ticket keys   ARGV[3] prefix of order keys
--
-- Returns {last_id, tickets, orders}: the tickets as JSON objects and the orders as the
-- members of a JSON object (`"<id>":{...}`), each joined with commas. The ledger keeps both
-- ready (each ticket's `screen`, each order's member in its ticket's screens hash), so a ticket
-- costs two reads; one kept before that is read field by field instead.
local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local last_id = newest[1] and newest[1][1] or '0-0'
local ids = redis.call('ZRANGE', KEYS[2], 0, -1)
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], ARGV[1], '+inf')) do
  table.insert(ids, id)
end

-- An order without its member in the screens hash, from its own hash.
local function member_of(order_id)
  local order_key = ARGV[3] .. order_id
  local f = redis.call('HMGET', order_key, 'screen', 'status', 'percent', 'reason')
  if not f[2] then return nil end
  local screen = f[1]
  if not screen then  -- recorded before the ledger kept `screen`
    local old = redis.call('HMGET', order_key, 'dish', 'station', 'note', 'course', 'rush',
                           'created_at', 'fire_at')
    screen = cjson.encode({dish = old[1], station = old[2], note = old[3] or nil,
                           course = tonumber(old[4]), rush = old[5] == 'true' or nil,
                           created_at = tonumber(old[6]), fire_at = tonumber(old[7])})
  end
  return order_member(order_id, screen, f[2], f[3], f[4])
end

local tickets, orders = {}, {}
for _, id in ipairs(ids) do
  local ticket_key = ARGV[2] .. id
  local kept = redis.call('HMGET', ticket_key, 'screen', 'dish_count', 'ticket_id')
  local members = kept[1] and redis.call('HVALS', ticket_key .. ':screens') or {}
  if kept[1] and #members == tonumber(kept[2]) then
    table.insert(tickets, kept[1])
    for _, member in ipairs(members) do
      table.insert(orders, member)
    end
  elseif kept[3] then
    local dishes = redis.call('LRANGE', ticket_key .. ':dishes', 0, -1)
    table.insert(tickets, ticket_json(hash_of(ticket_key), dishes))
    local found = #dishes > 0 and redis.call('HMGET', ticket_key .. ':screens', unpack(dishes)) or {}
    for i, order_id in ipairs(dishes) do
      local member = found[i] or member_of(order_id)
      if member then table.insert(orders, member) end
    end
  end
end
return {last_id, table.concat(tickets, ','), table.concat(orders, ',')}
