"""Station capacity across every worker: a dish cooks only while it holds a lease on its station.

A lease is a member of the station's sorted set in Redis, scored by when it expires (server
time). A dish takes one before it starts cooking and gives it back when its task ends, however
it ends; a worker that dies cannot give it back, so the lease lapses at the dish's hard time
limit (plus a grace period), when the worker would have killed the dish anyway. Nothing is
counted, so nothing leaks.
"""

import logging
from typing import Any, Final, NoReturn

import redis
from celery import Task
from celery.exceptions import Ignore
from celery.signals import task_postrun

from kitchen.current import get_kitchen
from kitchen.events import get_news
from restaurant.menu import Dish
from restaurant.names import LEASES_KEY, PREPARE_DISH

logger = logging.getLogger(__name__)

#: Seconds a lease outlives its dish's hard time limit, for clock and scheduling slack.
LEASE_GRACE: Final = 2.0

# KEYS[1] the station's leases   ARGV[1] order id   ARGV[2] lease seconds   ARGV[3] capacity
# Returns 1 if the order holds a lease now (taken or renewed), else 0.
_ACQUIRE = """
local now = redis.call('TIME')
local seconds = tonumber(now[1]) + tonumber(now[2]) / 1e6
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', seconds)
if redis.call('ZSCORE', KEYS[1], ARGV[1])
   or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], seconds + tonumber(ARGV[2]), ARGV[1])
  return 1
end
return 0
"""


class StationLeases:
    """The leases of every station, in one Redis database."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._acquire = client.register_script(_ACQUIRE)

    def acquire(self, station: str, order_id: str, seconds: float, capacity: int) -> bool:
        """Take (or renew) a lease on `station` for `seconds`; False if the station is full."""
        key = LEASES_KEY.format(station=station)
        return bool(self._acquire(keys=[key], args=[order_id, seconds, capacity]))

    def release(self, station: str, order_id: str) -> None:
        """Give the lease back (nothing happens if the order holds none)."""
        self.client.zrem(LEASES_KEY.format(station=station), order_id)

    def holders(self, station: str) -> list[str]:
        """The orders holding a lease on `station` (expired ones included until next taken)."""
        raw = self.client.zrange(LEASES_KEY.format(station=station), 0, -1)
        return [item.decode() if isinstance(item, bytes) else str(item) for item in raw]


def get_leases() -> StationLeases:
    """Leases through this process's bounded Redis client (the ledger's)."""
    return StationLeases(get_news().ledger.client)


def claim_station(task: Task, dish: Dish, order_id: str) -> None:
    """Take a lease on the dish's station, or send the order back to wait for one.

    A station without a capacity on the menu needs no lease. When the station is full the
    order goes back to its queue after `kitchen_station_wait` seconds, with the same attempt
    number, and this delivery ends without cooking. If Redis cannot be asked, the dish cooks:
    the kitchen never stops for want of news.
    """
    capacity = get_kitchen().menu.stations[dish.station].capacity
    if capacity is None:
        return
    seconds = get_kitchen().limits(dish).hard + LEASE_GRACE
    try:
        if get_leases().acquire(dish.station, order_id, seconds, capacity):
            return
    except (redis.RedisError, OSError) as exc:
        logger.warning("Could not take a %s lease for %s: %s", dish.station, order_id, exc)
        return
    _wait_for_station(task, dish, capacity)


def _wait_for_station(task: Task, dish: Dish, capacity: int) -> NoReturn:
    wait = float(task.app.conf.kitchen_station_wait)
    logger.info(
        "The %s station is full (%d cooking); %s waits %.2f s",
        dish.station,
        capacity,
        dish.name,
        wait,
    )
    # Like a retry, but the attempt is not counted: the dish never reached the stove.
    task.signature_from_request(countdown=wait).apply_async()
    raise Ignore()


def release_station(order_id: str, dish_name: object) -> None:
    """Give back the order's lease, if its dish's station has leases."""
    dish = get_kitchen().menu.find(dish_name) if isinstance(dish_name, str) else None
    if dish is None or get_kitchen().menu.stations[dish.station].capacity is None:
        return
    try:
        get_leases().release(dish.station, order_id)
    except (redis.RedisError, OSError) as exc:
        logger.warning("Could not give back the %s lease of %s: %s", dish.station, order_id, exc)


@task_postrun.connect(weak=False)  # type: ignore[untyped-decorator]
def _release_after_task(task_id: str, task: Task, kwargs: Any = None, **_: Any) -> None:
    # However the task ended (ready, failed, retried, cancelled), its dish left the stove.
    if task.name == PREPARE_DISH and isinstance(kwargs, dict):
        release_station(task_id, kwargs.get("dish"))
