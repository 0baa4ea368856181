-- Everything a kitchen screen shows, read in one atomic step with the id of the event log's
-- newest entry: the events after that id are exactly what the snapshot does not hold.
--
-- KEYS[1] event log   KEYS[2] tickets not served   KEYS[3] served tickets
-- ARGV[1] served since (time)   ARGV[2] prefix of ticket keys   ARGV[3] prefix of order keys
-- ARGV[4..] the ticket fields
--
-- Returns {last_id, tickets, orders}: each ticket as its fields then its list of order ids,
-- each order as its id then its JSON for a screen (plain arrays: Lua's JSON is slower to
-- build here than Python's is there). Three reads a ticket: its fields, its dishes, and the
-- ledger's entries for them (ledger.lua); an order without one is read from its own hash.
local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local last_id = newest[1] and newest[1][1] or '0-0'
local ticket_fields = {}
for i = 4, #ARGV do
  table.insert(ticket_fields, ARGV[i])
end
local ids = redis.call('ZRANGE', KEYS[2], 0, -1)
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], ARGV[1], '+inf')) do
  table.insert(ids, id)
end

-- An order recorded without its ticket's entry, as the same JSON, from its own hash.
local function entry_of(order_key)
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
  return screen_entry(screen, f[2], f[3], f[4])
end

local tickets, orders = {}, {}
for _, id in ipairs(ids) do
  local ticket_key = ARGV[2] .. id
  local ticket = redis.call('HMGET', ticket_key, unpack(ticket_fields))
  if ticket[1] then
    local dishes = redis.call('LRANGE', ticket_key .. ':dishes', 0, -1)
    table.insert(ticket, dishes)
    table.insert(tickets, ticket)
    if #dishes > 0 then
      local entries = redis.call('HMGET', ticket_key .. ':screens', unpack(dishes))
      for i, order_id in ipairs(dishes) do
        local entry = entries[i] or entry_of(ARGV[3] .. order_id)
        if entry then
          table.insert(orders, {order_id, entry})
        end
      end
    end
  end
end
return {last_id, tickets, orders}
