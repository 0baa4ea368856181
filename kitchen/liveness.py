"""A dead worker's messages back in their queues in seconds, found by its missing heartbeat.

On Redis, kombu keeps each message a worker holds (on the stove or reserved) in its `unacked`
hash and puts it back only once the visibility timeout has passed: an hour, since it must
outlast the longest dish. Here each worker also lists the delivery tags it holds, in a set of
its own, and beats in a sorted set of workers every sixth of KITCHEN_DEAD_AFTER, from a thread
of its main process that no dish, however long, holds up. Every worker looks at each beat for
workers silent for longer than KITCHEN_DEAD_AFTER: one Lua script takes such a worker's set
away from it, so only one looker gets it, and the looker puts each of its messages back at the
front of its queue, as kombu's own restore does.

A worker that was only cut off (stopped, then resumed) beats again and carries on; the
messages it lost may be cooked elsewhere meanwhile, and the ledger's claim lets only one cook
finish each dish. Its late acknowledgement of a message it no longer holds changes nothing
(`settle`), so the new holder's record stays. The visibility timeout remains the last resort.
"""

import logging
import os
import secrets
import threading
import weakref
from typing import Any, Final

import redis
from celery.signals import worker_init, worker_shutdown
from kombu.exceptions import OperationalError
from kombu.transport import redis as kombu_redis

from restaurant.connections import REDIS_SCHEMES, bounded_redis

logger = logging.getLogger(__name__)

#: Every worker's last beat, by worker id, in Redis's clock.
WORKERS_KEY: Final = "restaurant:kitchen:workers"
#: The delivery tags a worker holds, by worker id.
HELD_PREFIX: Final = "restaurant:kitchen:held:"

#: KEYS[1] the workers; ARGV[1] this worker's id. Beats with Redis's clock.
BEAT: Final = """
local now = redis.call('TIME')
redis.call('ZADD', KEYS[1], now[1] + now[2] / 1e6, ARGV[1])
return 1
"""

#: KEYS[1] the workers; ARGV[1] seconds of silence that mean dead, ARGV[2] the prefix of held
#: sets, ARGV[3] the caller's id. Takes every dead worker's held tags off it, atomically.
#: Returns {id, seconds silent, n, tag 1 .. tag n, id, ...}.
REAP: Final = """
local now = redis.call('TIME')
local clock = now[1] + now[2] / 1e6
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', clock - tonumber(ARGV[1]), 'WITHSCORES')
local found = {}
for i = 1, #dead, 2 do
  local id = dead[i]
  if id ~= ARGV[3] then
    local held = ARGV[2] .. id
    local tags = redis.call('SMEMBERS', held)
    redis.call('DEL', held)
    redis.call('ZREM', KEYS[1], id)
    table.insert(found, id)
    table.insert(found, tostring(clock - tonumber(dead[i + 1])))
    table.insert(found, #tags)
    for _, tag in ipairs(tags) do table.insert(found, tag) end
  end
end
return found
"""

#: KEYS[1] this worker's held set, KEYS[2] the workers; ARGV[1] its id. A worker that stops
#: holding nothing leaves; one that still holds messages is left for the others to reap.
LEAVE: Final = """
if redis.call('SCARD', KEYS[1]) == 0 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 1
end
return 0
"""

#: KEYS[1] this worker's held set, KEYS[2] kombu's unacked index, KEYS[3] its unacked hash;
#: ARGV[1] a delivery tag. Forget an acknowledged message, if this worker still holds it.
SETTLE: Final = """
if redis.call('SREM', KEYS[1], ARGV[1]) == 1 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
  return 1
end
return 0
"""

#: What a lost or restarting Redis raises, here or through kombu.
_AWAY: Final = (redis.RedisError, OperationalError, OSError)

_worker_id: str | None = None
#: The QoS of each of this worker's channels, whose messages it has in hand (in memory).
_channels: "weakref.WeakSet[Any]" = weakref.WeakSet()


def worker_id() -> str | None:
    """This process's worker id, once it runs as a kitchen worker on a Redis broker."""
    return _worker_id


def track(qos: Any) -> None:
    """Count a channel's messages as in this worker's hands (kitchen/transport.py's QoS)."""
    _channels.add(qos)


def in_hand() -> set[str] | None:
    """The delivery tags this worker's channels hold now, or None if they kept changing."""
    for _ in range(5):
        try:
            # kombu's QoS keeps an acknowledged message in `_delivered` until it next flushes
            # its `_dirty` tags. A closed channel's messages (its connection was lost) are in
            # hand no longer: it cannot acknowledge them, and they are to be put back.
            return {
                str(tag)
                for qos in list(_channels)
                if not qos.channel.closed
                for tag in set(qos._delivered) - set(qos._dirty)
            }
        except RuntimeError:  # a channel took or settled a message meanwhile: look again
            continue
    return None


def held_key(worker: str) -> str:
    """The set of delivery tags a worker holds."""
    return f"{HELD_PREFIX}{worker}"


def held_by(client: redis.Redis, name: str) -> int:
    """How many messages the workers called `name` (`chef1@host`, or `chef1@` for any host) hold."""
    workers: list[bytes | str] = client.zrange(WORKERS_KEY, 0, -1)  # type: ignore[assignment]
    mine = [_text(worker) for worker in workers if _text(worker).startswith(name)]
    return sum(int(client.scard(held_key(worker))) for worker in mine)


class Heart:
    """Beats for one worker, and puts back the messages of workers that stopped beating."""

    def __init__(self, app: Any, worker: str, dead_after: float) -> None:
        self.app = app
        self.worker = worker
        self.dead_after = dead_after
        self.interval = dead_after / 6
        timeout = float(app.conf.redis_socket_connect_timeout)
        # Its loop tries again at every beat: no command of it waits out a failover.
        self.client = bounded_redis(
            app.conf.broker_url, timeout, "kitchen-liveness", wait_out_failovers=False
        )
        self._beat = self.client.register_script(BEAT)
        self._reap = self.client.register_script(REAP)
        self._leave = self.client.register_script(LEAVE)
        #: Tags seen on one side only at the last look (see `reconcile`).
        self._stale: set[str] = set()
        self._unlisted: set[str] = set()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kitchen-liveness", daemon=True)

    def start(self) -> None:
        """Beat once now (before the worker takes a message), then from a thread."""
        try:
            self.beat()
        except _AWAY as exc:
            # Redis is away at start: the worker takes nothing until it is back, nor beats.
            logger.warning("Could not beat: %s", exc)
        self._thread.start()

    def stop(self) -> None:
        """Stop beating; leave the list of workers if this one holds nothing any more."""
        self._stopped.set()
        self._thread.join(timeout=self.interval + 5)
        try:
            self._leave(keys=[held_key(self.worker), WORKERS_KEY], args=[self.worker])
        except _AWAY as exc:
            # Shutting down all the same: the others reap this worker once it is silent.
            logger.warning("Could not leave the list of workers: %s", exc)

    def beat(self) -> None:
        """Say this worker is alive, in Redis's clock."""
        self._beat(keys=[WORKERS_KEY], args=[self.worker])

    def reap(self) -> int:
        """Put back the messages of every worker silent for too long; return how many."""
        found = self._reap(keys=[WORKERS_KEY], args=[self.dead_after, HELD_PREFIX, self.worker])
        restored = 0
        replies = iter(found)
        for dead in replies:
            silent, count = float(next(replies)), int(next(replies))
            tags = [_text(next(replies)) for _ in range(count)]
            if tags:
                self._restore(tags)
                restored += len(tags)
                logger.warning(
                    "Worker %s fell silent %.1f s ago: put the %d messages it held back in "
                    "their queues",
                    _text(dead),
                    silent,
                    len(tags),
                )
        return restored

    def reconcile(self) -> None:
        """Make the held set say what this worker holds, after a failover lost its last writes.

        A master that dies can take the last writes with it: an acknowledgement (the message
        then lingers in `unacked`, listed as held, though the worker let it go) or a listing.
        A tag on one side only, at two looks in a row (not a message on its way in or out),
        is set right: listed again, or put back in its queue, where the ledger's claim sees
        that its order is finished and the next cook acknowledges it without cooking.
        """
        holding = in_hand()
        if holding is None:
            return
        key = held_key(self.worker)
        listed = {_text(tag) for tag in self.client.smembers(key)}
        stale, unlisted = listed - holding, holding - listed
        restore, relist = stale & self._stale, unlisted & self._unlisted
        self._stale, self._unlisted = stale - restore, unlisted - relist
        if relist:
            self.client.sadd(key, *relist)
        if restore:
            self._restore(sorted(restore))
            logger.warning(
                "Put back %d messages listed as held by this worker, which it no longer holds",
                len(restore),
            )

    def _restore(self, tags: list[str]) -> None:
        """Put messages back at the front of their queues, as kombu's restore does."""
        with self.app.connection_for_write() as connection:
            qos = connection.default_channel.qos
            for tag in tags:
                # kombu's own restore (a WATCH transaction on the unacked hash): a message
                # acknowledged meanwhile is left alone.
                kombu_redis.QoS.restore_by_tag(qos, tag)  # type: ignore[no-untyped-call]

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            try:
                self.beat()
                self.reap()
                self.reconcile()
            except _AWAY as exc:
                # Redis away (restarting, failing over): beat again at the next interval.
                logger.warning("Could not beat or look for silent workers: %s", exc)


def _text(raw: bytes | str | int) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


_heart: Heart | None = None


def on_worker_init(sender: Any, **_: Any) -> None:
    """Start beating when a worker starts on a Redis broker (RabbitMQ needs none of this)."""
    global _worker_id, _heart  # noqa: PLW0603  (one heart per worker process)
    app = sender.app
    if not str(app.conf.broker_url).startswith(REDIS_SCHEMES):
        return
    _worker_id = f"{sender.hostname}/{os.getpid()}/{secrets.token_hex(4)}"
    _heart = Heart(app, _worker_id, float(app.conf.kitchen_dead_after))
    _heart.start()


def on_worker_shutdown(**_: Any) -> None:
    """Stop beating when the worker stops."""
    if _heart is not None:
        _heart.stop()


def install() -> None:
    """Beat while a worker runs."""
    worker_init.connect(on_worker_init, weak=False)
    worker_shutdown.connect(on_worker_shutdown, weak=False)
