-- Renew a cook's lease on an order and read the order's status, in one round trip.
--
-- KEYS[1] order hash   KEYS[2] cook lease   ARGV[1] lease token   ARGV[2] lease (ms)
--
-- Returns {'held', status} while the lease is ours (renewed, or taken again after it lapsed
-- with nobody else taking it), or {'lost', holder} when another cook has it now.
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[1] then
  return {'lost', holder}
end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return {'held', redis.call('HGET', KEYS[1], 'status') or ''}
