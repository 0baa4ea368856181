-- Everything a kitchen screen shows, read in one atomic step with the id of the event log's
-- newest entry: the events after that id are exactly what the snapshot does not hold.
--
-- KEYS[1] event log   KEYS[2] tickets not served   KEYS[3] served tickets
-- ARGV[1] served since (time)   ARGV[2] prefix of ticket keys   ARGV[3] prefix of order keys
-- ARGV[4] how many ticket fields follow   ARGV[5..] the ticket fields, then the order fields
--
-- Returns {last_id, tickets, orders}: each ticket as its fields then its list of order ids,
-- each order as its id then its fields (the first of them always set), in the order asked (plain arrays: Lua's JSON is slower to build
-- here than Python's is there).
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
local tickets, orders = {}, {}
for _, id in ipairs(ids) do
  local ticket_key = ARGV[2] .. id
  local ticket = redis.call('HMGET', ticket_key, unpack(ticket_fields))
  if ticket[1] then
    local dishes = redis.call('LRANGE', ticket_key .. ':dishes', 0, -1)
    table.insert(ticket, dishes)
    table.insert(tickets, ticket)
    for _, order_id in ipairs(dishes) do
      local order_key = ARGV[3] .. order_id
      local order = redis.call('HMGET', order_key, 'screen', 'status', 'percent', 'reason')
      if order[2] then
        if not order[1] then  -- recorded before the ledger kept `screen`
          local f = redis.call('HMGET', order_key, 'dish', 'station', 'note', 'course', 'rush',
                               'created_at', 'fire_at')
          order[1] = cjson.encode({dish = f[1], station = f[2], note = f[3] or nil,
                                   course = tonumber(f[4]), rush = f[5] == 'true' or nil,
                                   created_at = tonumber(f[6]), fire_at = tonumber(f[7])})
        end
        table.insert(order, 1, order_id)
        table.insert(orders, order)
      end
    end
  end
end
return {last_id, tickets, orders}
