"""Held orders: kept in Redis, out of the broker, until their time comes or their course is fired.

A message waiting in the broker for its ETA is delivered again once the broker's visibility
timeout passes, so a held order never goes near the broker: the waiter keeps it here, and the
scheduler (or `waiter fire`) claims it and sends it like any other order. Claiming is atomic, so
however many schedulers run, each held order is claimed by one. A claimed order is not
forgotten until it has been sent (`done`): it is only put off for CLAIM_LEASE seconds, so that
if its sender dies before sending it, a scheduler fires it then. (The kitchen's claim on each
order makes the rare second message harmless.)
"""

import json
from dataclasses import asdict, dataclass
from typing import Any, Final

import redis

from restaurant.names import COURSE_KEY, HELD_KEY, HELD_ORDERS_KEY

#: Most orders claimed in one go; the rest wait for the next round.
CLAIM_BATCH: Final = 100
#: Seconds a claimed order waits for its sender before a scheduler may fire it instead.
CLAIM_LEASE: Final = 30

# KEYS[1] the held-by-time sorted set   KEYS[2] the payload hash
# ARGV[1] now   ARGV[2] batch   ARGV[3] claim lease (s)
_CLAIM_DUE = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
if #ids == 0 then return {} end
local again = tonumber(ARGV[1]) + tonumber(ARGV[3])
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], again, id) end
return redis.call('HMGET', KEYS[2], unpack(ids))
"""

# KEYS[1] the course's set   KEYS[2] the payload hash   KEYS[3] the held-by-time sorted set
# ARGV[1] now   ARGV[2] claim lease (s)
_CLAIM_COURSE = """
local ids = redis.call('SMEMBERS', KEYS[1])
if #ids == 0 then return {} end
redis.call('DEL', KEYS[1])
local again = tonumber(ARGV[1]) + tonumber(ARGV[2])
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[3], again, id) end
return redis.call('HMGET', KEYS[2], unpack(ids))
"""

# KEYS[1] held-by-time   KEYS[2] payload hash   ARGV[1] order id   ARGV[2] course-key template
_RELEASE = """
local payload = redis.call('HGET', KEYS[2], ARGV[1])
if not payload then return 0 end
local held = cjson.decode(payload)
redis.call('ZREM', KEYS[1], ARGV[1])
if held.course ~= nil and held.course ~= cjson.null then
  local key = string.gsub(string.gsub(ARGV[2], '{table}', held.table), '{course}', held.course)
  redis.call('SREM', key, ARGV[1])
end
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
"""


@dataclass(frozen=True)
class HeldOrder:
    """An order waiting to be sent: to which queue, with which arguments, and until when."""

    order_id: str
    queue: str
    kwargs: dict[str, Any]
    table: int
    #: The course it belongs to; None for an order held only until a time.
    course: int | None = None
    #: When it fires (seconds since the epoch); None: when its course is fired.
    fire_at: float | None = None

    def to_json(self) -> str:
        """Encode for the payload hash."""
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> "HeldOrder":
        """Decode from the payload hash."""
        return cls(**json.loads(raw))


class Schedule:
    """The held orders in one Redis database."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._claim_due = client.register_script(_CLAIM_DUE)
        self._claim_course = client.register_script(_CLAIM_COURSE)
        self._release = client.register_script(_RELEASE)

    def hold(self, orders: list[HeldOrder]) -> None:
        """Keep the orders until their time, or until their course is fired."""
        with self.client.pipeline(transaction=True) as pipe:
            for held in orders:
                pipe.hset(HELD_ORDERS_KEY, held.order_id, held.to_json())
                if held.fire_at is not None:
                    pipe.zadd(HELD_KEY, {held.order_id: held.fire_at})
                else:
                    key = COURSE_KEY.format(table=held.table, course=held.course)
                    pipe.sadd(key, held.order_id)
                    # Held again after a failed `waiter fire`: no longer due to the scheduler.
                    pipe.zrem(HELD_KEY, held.order_id)
            pipe.execute()

    def claim_due(self, now: float) -> list[HeldOrder]:
        """Take the orders whose time has come; nobody else can take them for CLAIM_LEASE s."""
        args = [now, CLAIM_BATCH, CLAIM_LEASE]
        return _decode(self._claim_due(keys=[HELD_KEY, HELD_ORDERS_KEY], args=args))

    def claim_course(self, table: int, course: int, now: float) -> list[HeldOrder]:
        """Take every held order of one table's course (fired by a scheduler if not sent)."""
        key = COURSE_KEY.format(table=table, course=course)
        args = [now, CLAIM_LEASE]
        return _decode(self._claim_course(keys=[key, HELD_ORDERS_KEY, HELD_KEY], args=args))

    def done(self, order_ids: list[str]) -> None:
        """Forget claimed orders that were sent (or dropped as cancelled)."""
        if order_ids:
            with self.client.pipeline(transaction=True) as pipe:
                pipe.zrem(HELD_KEY, *order_ids)
                pipe.hdel(HELD_ORDERS_KEY, *order_ids)
                pipe.execute()

    def release(self, order_id: str) -> bool:
        """Forget a held order (it was cancelled); say whether it was still held."""
        args = [order_id, COURSE_KEY]
        return bool(self._release(keys=[HELD_KEY, HELD_ORDERS_KEY], args=args))

    def next_fire_at(self) -> float | None:
        """Return when the next order held until a time fires, or None if there is none."""
        first = self.client.zrange(HELD_KEY, 0, 0, withscores=True)
        return float(first[0][1]) if first else None


def _decode(payloads: list[Any]) -> list[HeldOrder]:
    return [HeldOrder.from_json(raw) for raw in payloads if raw is not None]
