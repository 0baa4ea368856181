-- Everything a kitchen screen shows, read in one atomic step with the id of the event log's
-- newest entry: the events after that id are exactly what the snapshot does not hold.
--
-- KEYS[1] event log   KEYS[2] tickets not served   KEYS[3] served tickets
-- ARGV[1] served since (time)   ARGV[2] prefix of ticket keys   ARGV[3] prefix of order keys
--
-- Returns JSON: {last_id, tickets: [ticket hash + dishes], orders: {id: order hash}}.
local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local last_id = newest[1] and newest[1][1] or '0-0'
local ids = redis.call('ZRANGE', KEYS[2], 0, -1)
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], ARGV[1], '+inf')) do
  table.insert(ids, id)
end
local tickets, orders = {}, {}
for _, id in ipairs(ids) do
  local ticket = hash_of(ARGV[2] .. id)
  if ticket.ticket_id then
    ticket.dishes = redis.call('LRANGE', ARGV[2] .. id .. ':dishes', 0, -1)
    for _, order_id in ipairs(ticket.dishes) do
      local order = hash_of(ARGV[3] .. order_id)
      if order.order_id then
        orders[order_id] = order
      end
    end
    table.insert(tickets, ticket)
  end
end
return cjson.encode({last_id = last_id, tickets = tickets, orders = orders})
