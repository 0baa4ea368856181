"""Sending task messages straight to a Redis broker: a transaction, or along with the ledger's.

What `app.send_task` would put in Redis, the same in meaning (waiter/fastpath/wire.py), without
Celery's per-message publish path (about 1.2 ms each): the messages LPUSHed to their queue,
a PUBLISH per Flower `task-sent` event, and the queue's binding the first time it is used.
When the broker is the ledger's database, a script pushes them behind the ledger's writes, in
the same pipeline (`TaskPusher.queue_recorded`).
"""

import os
import socket
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any, Final, NamedTuple

import redis
from redis.client import Pipeline
from redis.commands.core import Script

import celeryconfig
from restaurant.ledger import database_of
from restaurant.pipelines import execute
from waiter.fastpath import wire

#: PUBLISH each argument on the channel KEYS[1], in order: one command for a batch of events
#: instead of one each (subscribers receive the same messages as from separate PUBLISHes).
PUBLISH_EACH: Final = """
for i = 1, #ARGV do
  redis.call('PUBLISH', KEYS[1], ARGV[i])
end
return #ARGV
"""

#: Push each message, with its `task-sent` event, only if the ledger holds every one of their
#: orders: KEYS[1] the events' channel, then each message's queue and its order's ledger hash;
#: ARGV each message and its event ('' for none). Returns how many were pushed (all or none).
PUSH_RECORDED: Final = """
for i = 3, #KEYS, 2 do
  if redis.call('EXISTS', KEYS[i]) == 0 then return 0 end
end
for i = 2, #KEYS, 2 do
  redis.call('LPUSH', KEYS[i], ARGV[i - 1])
  if ARGV[i] ~= '' then redis.call('PUBLISH', KEYS[1], ARGV[i]) end
end
return (#KEYS - 1) / 2
"""

#: Set WAITER_VIA_CELERY=1 to send every message through Celery's `send_task` instead.
VIA_CELERY: Final = "WAITER_VIA_CELERY"

#: Broker transport options that do not change where or how a message is stored.
_NEUTRAL_OPTIONS: Final = frozenset(
    {
        "visibility_timeout",
        "unacked_restore_interval",
        "unacked_restore_throttle",
        "queue_order_strategy",
        "socket_connect_timeout",
        "socket_timeout",
        "socket_keepalive",
        "health_check_interval",
        "retry_on_timeout",
        "max_connections",
        # Sentinel: which master, and the sentinels' password; the master stores as any Redis.
        "master_name",
        "sentinel_kwargs",
    }
)
#: Celery settings that would change the message or its queue if celeryconfig set them.
_SHAPING_SETTINGS: Final = (
    "task_queues",
    "task_routes",
    "task_create_missing_queues",
    "task_default_exchange",
    "task_default_exchange_type",
    "task_default_routing_key",
    "task_default_delivery_mode",
    "task_default_priority",
    "task_queue_max_priority",
    "task_compression",
    "task_protocol",
    "task_annotations",
    "event_exchange",
    "event_serializer",
    "broker_use_ssl",
)


def applies(broker_url: str) -> bool:
    """Whether messages for this broker can be pushed directly, exactly as Celery would store them.

    Only a plain `redis://` broker, or the master Sentinel names, with settings that leave
    kombu's storage as it is by default; anything else (RabbitMQ, TLS, key prefixes, custom
    queues) goes through Celery.
    """
    if os.environ.get(VIA_CELERY) or not broker_url.startswith(("redis://", "sentinel://")):
        return False
    return _celeryconfig_applies()


@cache
def _celeryconfig_applies() -> bool:
    """Whether celeryconfig leaves messages and queues as kombu stores them by default."""
    if getattr(celeryconfig, "task_serializer", "json") != "json":
        return False
    options = getattr(celeryconfig, "broker_transport_options", {}) or {}
    if not set(options) <= _NEUTRAL_OPTIONS:
        return False
    return not any(hasattr(celeryconfig, name) for name in _SHAPING_SETTINGS)


class Encoded(NamedTuple):
    """A task message built, not yet sent."""

    task_id: str
    queue: str
    #: The message as the queue holds it.
    message: str
    #: Its `kwargsrepr` header as JSON, which its `task-sent` event repeats.
    kwargsrepr: str


class TaskPusher:
    """Pushes one task's messages, with their `task-sent` events, to one Redis broker."""

    def __init__(self, client: redis.Redis, task: str, sender: str) -> None:
        self.client = client
        #: Flower's name for this program, as `waiter.firing.event_sender` gives it.
        hostname = f"{sender}@{socket.gethostname()}"
        self.messages = wire.TaskMessages(task, hostname, wire.reply_to(self))
        self.events = bool(getattr(celeryconfig, "task_send_sent_event", False))
        self.topic = wire.event_topic(database_of(client))
        #: The event dispatcher's Lamport clock: one tick per event sent.
        self.clock = 0
        self._declared: set[str] = set()
        self._publish_each = client.register_script(PUBLISH_EACH)
        self._push_recorded = client.register_script(PUSH_RECORDED)

    def encode(self, task_id: str, kwargs: Mapping[str, Any], queue: str) -> Encoded:
        """Build one message, ahead of sending it (nothing goes to Redis)."""
        message, kwargsrepr = self.messages.message(task_id, kwargs, queue)
        return Encoded(task_id, queue, message, kwargsrepr)

    def send(self, orders: Iterable[tuple[str, Mapping[str, Any], str]]) -> None:
        """Send the task once per (task id, kwargs, queue), all in one transaction."""
        self.push([self.encode(*order) for order in orders])

    def push(self, messages: Sequence[Encoded]) -> None:
        """Push built messages, each with its `task-sent` event, in one transaction."""
        with self.pipeline(messages) as pipe:
            execute(pipe, self.scripts)

    @property
    def scripts(self) -> list[Script]:
        """The Lua scripts its pipelines run (to load again if Redis has lost them)."""
        return [self._publish_each, self._push_recorded]

    def pipeline(self, messages: Sequence[Encoded]) -> Pipeline:
        """A transaction (not yet executed) that pushes the messages and their events.

        MULTI/EXEC: the batch reaches Redis whole or not at all, so that an error leaves
        no doubt about which orders were sent. Each queue's messages go in one LPUSH, in
        order: the first sent is the first a cook's BRPOP takes, as with one LPUSH each.
        """
        pipe = self.client.pipeline(transaction=True)
        self._declare(pipe, messages)
        queued: dict[str, list[str]] = {}
        for item in messages:
            queued.setdefault(item.queue, []).append(item.message)
        for queue, bodies in queued.items():
            pipe.lpush(queue, *bodies)
        if self.events:
            events = self._sent_events(messages)
            self._publish_each(keys=[self.topic], args=events, client=pipe)
        return pipe

    def queue_recorded(
        self, pipe: Pipeline, messages: Sequence[Encoded], order_keys: Sequence[str]
    ) -> int:
        """Queue the messages on `pipe`, behind the ledger's writes of their orders.

        `pipe` is a pipeline of this pusher's client (the broker is the ledger's database):
        one script pushes the messages, with their `task-sent` events, only if the ledger then
        holds every one of their orders (`order_keys`, in the same order). Returns how many
        replies that adds to the pipeline; the last is how many messages were pushed.
        """
        declared = self._declare(pipe, messages)
        events = self._sent_events(messages) if self.events else [""] * len(messages)
        keys, args = [self.topic], []
        for item, order_key, event in zip(messages, order_keys, events, strict=True):
            keys += [item.queue, order_key]
            args += [item.message, event]
        self._push_recorded(keys=keys, args=args, client=pipe)
        return declared + 1

    def _declare(self, pipe: Pipeline, messages: Sequence[Encoded]) -> int:
        """What declaring each new queue does, once per producer, as send_task does."""
        commands = 0
        for item in messages:
            if item.queue not in self._declared:
                member = wire.binding(item.queue)
                for key in wire.BINDING_KEYS:
                    pipe.sadd(key.format(exchange=item.queue), member)
                    commands += 1
                self._declared.add(item.queue)
        return commands

    def _sent_events(self, messages: Sequence[Encoded]) -> list[str]:
        """Each message's `task-sent` event, the dispatcher's clock ticking once for each."""
        offset = wire.utcoffset()
        events = []
        for task_id, queue, _, kwargsrepr in messages:
            self.clock += 1
            events.append(self.messages.sent_event(task_id, kwargsrepr, queue, self.clock, offset))
        return events
