-- Record the message a cook's BRPOP took as unacknowledged, then take up to ARGV[1] more
-- from its queues and record each, in one atomic step: what kombu's QoS.append does for the
-- first and kombu's BRPOP and QoS.append do for each of the others, one at a time.
--
-- KEYS[1..n-3] the queue lists, in the order BRPOP reads them
-- KEYS[n-2] kombu's unacked index (sorted set)   KEYS[n-1] kombu's unacked messages (hash)
-- KEYS[n] the set of tags this worker holds (kitchen/liveness.py), used if ARGV[3] is 1
-- ARGV[1] most messages to take   ARGV[2] now (s since the epoch)   ARGV[3] 1: list as held
-- ARGV[4] the delivery tag of the message BRPOP took, ARGV[5] its record in kombu's layout
-- (both '': none to record, as for a message that is not kombu's)
--
-- A message recorded here is in Redis's hands or the cook's at every moment, as with kombu.
-- One that is not a kombu message (no delivery tag, exchange or routing key) is put back
-- where it was, and taking stops: the cook's next BRPOP takes it and kombu refuses it as it
-- always does.
--
-- Returns {queue key, message, queue key, message, ...} in the order taken.
local most = tonumber(ARGV[1])
local index, unacked, held = KEYS[#KEYS - 2], KEYS[#KEYS - 1], KEYS[#KEYS]
local listed = ARGV[3] == '1'
local taken = {}

if ARGV[4] ~= '' then
  redis.call('ZADD', index, ARGV[2], ARGV[4])
  redis.call('HSET', unacked, ARGV[4], ARGV[5])
  if listed then redis.call('SADD', held, ARGV[4]) end
end

local function envelope(raw)
  local ok, message = pcall(cjson.decode, raw)
  if not ok or type(message) ~= 'table' then return nil end
  local properties = message.properties
  if type(properties) ~= 'table' then return nil end
  local info = properties.delivery_info
  if type(properties.delivery_tag) ~= 'string' or type(info) ~= 'table' then return nil end
  if type(info.exchange) ~= 'string' or type(info.routing_key) ~= 'string' then return nil end
  return properties.delivery_tag, info
end

for i = 1, #KEYS - 3 do
  while #taken < 2 * most do
    local raw = redis.call('RPOP', KEYS[i])
    if not raw then break end
    local tag, info = envelope(raw)
    if not tag then
      redis.call('RPUSH', KEYS[i], raw)
      return taken
    end
    redis.call('ZADD', index, ARGV[2], tag)
    -- kombu's layout, [message, exchange, routing key], with the message byte for byte.
    redis.call('HSET', unacked, tag,
               '[' .. raw .. ',' .. cjson.encode(info.exchange) .. ','
               .. cjson.encode(info.routing_key) .. ']')
    if listed then redis.call('SADD', held, tag) end
    table.insert(taken, KEYS[i])
    table.insert(taken, raw)
  end
  if #taken >= 2 * most then break end
end
return taken
