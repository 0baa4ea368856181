"""kombu's Redis transport, with one client for its commands and several messages per receive."""

import time
from functools import cached_property
from importlib import resources
from queue import Empty
from typing import Any, Final

import redis
from kombu.transport import TRANSPORT_ALIASES, virtual
from kombu.transport import redis as kombu_redis
from kombu.utils.json import dumps, loads

from kitchen import liveness
from kitchen.green import green

#: Most messages taken in one go after a BRPOP (the prefetch limit applies first).
TAKE_AT_MOST: Final = 500

#: A gevent worker's connections for its commands (each dish acknowledges its own message).
GREEN_BROKER_CONNECTIONS: Final = 40
#: How long a command there waits for one of them when all are in use, at most.
GREEN_POOL_WAIT: Final = 10.0

_TAKE_MORE: Final = resources.files("kitchen").joinpath("take_more.lua").read_text("utf-8")


class QoS(kombu_redis.QoS):
    """kombu's Redis QoS, whose messages are also listed as held by this worker.

    kombu records a delivered message in its `unacked` hash; in a kitchen worker it also goes
    in the worker's held set (kitchen/liveness.py), so that another worker can put it back
    when this one dies, and it leaves both when acknowledged, rejected or restored. The QoS is
    also told which messages `take_more.lua` has already recorded.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]
        #: Delivery tags recorded as unacknowledged in Redis, not yet appended here.
        self.recorded: set[str] = set()
        #: The worker whose held set lists this channel's messages (None: no kitchen worker).
        self.owner = liveness.worker_id()
        if self.owner:
            liveness.track(self)

    @property
    def held_key(self) -> str | None:
        """The set of delivery tags this worker holds, if it is a kitchen worker."""
        return liveness.held_key(self.owner) if self.owner else None

    def append(self, message: Any, delivery_tag: str) -> None:
        """Keep track of a delivered message; record it in Redis unless that is done."""
        if delivery_tag in self.recorded:
            self.recorded.discard(delivery_tag)
        elif self.held_key is None:
            super().append(message, delivery_tag)  # type: ignore[no-untyped-call]
            return
        else:
            _, record = _record(message._raw)
            with self.pipe_or_acquire() as pipe:
                pipe.zadd(self.unacked_index_key, {delivery_tag: time.time()})
                pipe.hset(self.unacked_key, delivery_tag, record)
                pipe.sadd(self.held_key, delivery_tag)
                pipe.execute()
        virtual.QoS.append(self, message, delivery_tag)  # type: ignore[no-untyped-call]

    def ack(self, delivery_tag: str) -> None:
        """Forget an acknowledged message, unless another worker holds it now."""
        self._settle(delivery_tag)
        virtual.QoS.ack(self, delivery_tag)  # type: ignore[no-untyped-call]

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        """Put a message back at the end of its queue, or forget it."""
        if requeue:
            self.restore_by_tag(delivery_tag, leftmost=True)  # type: ignore[no-untyped-call]
        else:
            self._settle(delivery_tag)
        virtual.QoS.ack(self, delivery_tag)  # type: ignore[no-untyped-call]

    def _settle(self, delivery_tag: str) -> None:
        if self.held_key is None:
            self._remove_from_indices(delivery_tag).execute()
            return
        self.channel.settle_script(
            keys=[self.held_key, self.unacked_index_key, self.unacked_key], args=[delivery_tag]
        )

    def _remove_from_indices(self, delivery_tag: str, pipe: Any = None) -> Any:
        pipe = super()._remove_from_indices(delivery_tag, pipe)  # type: ignore[no-untyped-call]
        if self.held_key is not None:
            pipe.srem(self.held_key, delivery_tag)
        return pipe


class Channel(kombu_redis.Channel):
    """A Redis channel that builds its synchronous client once and takes messages in bulk.

    kombu builds a new `redis.Redis` for each acknowledgement, each reservation it records and
    each event it publishes: about 0.1 ms of CPU each in redis-py 8, a tenth of a worker's main
    process. The client holds no connection of its own (each command borrows one from the
    channel's pool), so one serves every caller, greenlets included.

    kombu also takes one message per BRPOP and records it with a transaction of its own: two
    round trips a message. After each BRPOP this channel records the message and takes as many
    more as the prefetch limit allows, already recorded, in one round trip
    (kitchen/take_more.lua).
    """

    QoS = QoS

    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        params: dict[str, Any] = super()._connparams(asynchronous)  # type: ignore[no-untyped-call]
        # No CLIENT SETINFO, whose library version redis-py reads from the installed packages'
        # metadata for each new connection (about 1.4 ms): a gevent worker opens one per dish.
        params["driver_info"] = None
        return params

    def _get_pool(self, asynchronous: bool = False) -> Any:
        pool = super()._get_pool(asynchronous)  # type: ignore[no-untyped-call]
        if asynchronous or not green() or type(pool) is not redis.ConnectionPool:
            return pool
        # Hundreds of dishes ending together would each open a connection to acknowledge
        # its message: they wait for one of a few instead. (Not through Sentinel, whose
        # pool finds the master.)
        return redis.BlockingConnectionPool(  # type: ignore[no-untyped-call]
            connection_class=pool.connection_class,
            max_connections=GREEN_BROKER_CONNECTIONS,
            timeout=GREEN_POOL_WAIT,
            **pool.connection_kwargs,
        )

    @cached_property
    def _sync_client(self) -> Any:
        return super()._create_client()  # type: ignore[no-untyped-call]

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:
            return super()._create_client(asynchronous=True)  # type: ignore[no-untyped-call]
        return self._sync_client

    @cached_property
    def _take_more_script(self) -> Any:
        return self._sync_client.register_script(_TAKE_MORE)

    @cached_property
    def settle_script(self) -> Any:
        """kitchen/liveness.py's SETTLE, on this channel's client."""
        return self._sync_client.register_script(liveness.SETTLE)

    def _brpop_read(self, **options: Any) -> bool:
        """kombu's, but the message is recorded along with the ones taken after it."""
        if self.global_keyprefix:
            return super()._brpop_read(**options)  # type: ignore[no-any-return,no-untyped-call]
        try:
            try:
                reply = self.client.parse_response(self.client.connection, "BRPOP", **options)
            except self.connection_errors:
                # As kombu: the next iteration connects again.
                self.client.connection.disconnect()
                raise
            if not reply:
                raise Empty()
            key, raw = reply
            queue = _text(key).rsplit(self.sep, 1)[0]
            self._queue_cycle.rotate(queue)
            message = loads(_text(raw))  # type: ignore[no-untyped-call]
            more = self._record_and_take_more(message)
            self.connection._deliver(message, queue)
            for next_queue, next_message in more:
                self.connection._deliver(next_message, next_queue)
            return True
        finally:
            self._in_poll = None  # type: ignore[assignment]
            # kombu's moment to re-authenticate the BRPOP connection, where it has one.
            reauth = getattr(self, "_flush_brpop_reauth", None)
            if reauth is not None:
                reauth()

    def _record_and_take_more(self, first: Any) -> list[tuple[str, Any]]:
        """Record `first` as unacknowledged and take the messages waiting behind it, recorded,
        as many as this channel may hold: one round trip. Return them with their queues.
        """
        tag, record = _record(first)
        estimate = self.qos.can_consume_max_estimate()
        # `first` is not delivered yet: the estimate counts its place.
        room = 0 if estimate is None else min(max(estimate - 1, 0), TAKE_AT_MOST)
        queues = self._queue_cycle.consume(len(self.active_queues))
        keys = [
            self._q_for_pri(queue, step)  # type: ignore[no-untyped-call]
            for step in self.priority_steps
            for queue in queues
        ]
        held = self.qos.held_key
        taken = self._take_more_script(
            keys=[*keys, self.unacked_index_key, self.unacked_key, held or ""],
            args=[room, time.time(), 1 if held else 0, tag, record],
        )
        if tag:
            self.qos.recorded.add(tag)
        more = []
        for key, raw in zip(taken[::2], taken[1::2], strict=True):
            queue = _text(key).rsplit(self.sep, 1)[0]
            message = loads(_text(raw))  # type: ignore[no-untyped-call]
            self.qos.recorded.add(message["properties"]["delivery_tag"])
            self._queue_cycle.rotate(queue)
            more.append((queue, message))
        return more


def _record(message: Any) -> tuple[str, str]:
    """A message's delivery tag and its record in kombu's unacked hash, or ('', '') when it
    is not a kombu message (kombu refuses it on delivery, as always).
    """
    properties = message.get("properties") if isinstance(message, dict) else None
    info = properties.get("delivery_info") if isinstance(properties, dict) else None
    tag = properties.get("delivery_tag") if isinstance(properties, dict) else None
    if not isinstance(tag, str) or not isinstance(info, dict):
        return "", ""
    exchange, routing_key = info.get("exchange"), info.get("routing_key")
    if not isinstance(exchange, str) or not isinstance(routing_key, str):
        return "", ""
    # QoS.append's layout: [message, exchange, routing key].
    return tag, dumps([message, exchange, routing_key])  # type: ignore[no-untyped-call]


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


class Transport(kombu_redis.Transport):
    """kombu's Redis transport with `Channel` above."""

    Channel = Channel


class SentinelChannel(Channel, kombu_redis.SentinelChannel):
    """`Channel` above, on the master the sentinels name (kombu's Sentinel channel)."""


class SentinelTransport(kombu_redis.SentinelTransport):
    """kombu's Sentinel transport with `SentinelChannel` above."""

    Channel = SentinelChannel


def install() -> None:
    """Make `redis://` and `sentinel://` brokers of this process use the transports above.

    URLs, the worker's banner and Flower's broker page see no change.
    """
    TRANSPORT_ALIASES["redis"] = f"{__name__}:Transport"
    TRANSPORT_ALIASES["sentinel"] = f"{__name__}:SentinelTransport"
