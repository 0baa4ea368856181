"""Sending task messages straight to a Redis broker: one pipelined transaction per batch.

What `app.send_task` would put in Redis, byte for byte in meaning (waiter/wire.py), without
Celery's per-message publish path (about 1.2 ms each): an LPUSH per message, a PUBLISH per
Flower `task-sent` event, and the queue's binding, the first time a queue is used.
"""

import os
import socket
from collections.abc import Iterable, Mapping
from typing import Any, Final

import redis

import celeryconfig
from restaurant.ledger import database_of
from waiter import wire

#: Messages pushed per pipeline: one round trip each, a few hundred kilobytes.
BATCH: Final = 1000

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

    Only a plain `redis://` broker with settings that leave kombu's storage as it is by default;
    anything else (RabbitMQ, Sentinel, TLS, key prefixes, custom queues) goes through Celery.
    """
    if os.environ.get(VIA_CELERY) or not broker_url.startswith("redis://"):
        return False
    if getattr(celeryconfig, "task_serializer", "json") != "json":
        return False
    options = getattr(celeryconfig, "broker_transport_options", {}) or {}
    if not set(options) <= _NEUTRAL_OPTIONS:
        return False
    return not any(hasattr(celeryconfig, name) for name in _SHAPING_SETTINGS)


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

    def push(self, orders: Iterable[tuple[str, Mapping[str, Any], str]]) -> None:
        """Send the task once per (task id, kwargs, queue), all in one transaction.

        MULTI/EXEC: the batch reaches Redis whole or not at all, so that an error leaves
        no doubt about which orders were sent.
        """
        queues: set[str] = set()
        clock = self.clock
        offset = wire.utcoffset()
        with self.client.pipeline(transaction=True) as pipe:
            for task_id, kwargs, queue in orders:
                if queue not in self._declared and queue not in queues:
                    # What declaring the queue does, once per producer, as send_task does.
                    member = wire.binding(queue)
                    for key in wire.BINDING_KEYS:
                        pipe.sadd(key.format(exchange=queue), member)
                    queues.add(queue)
                message, kwargsrepr = self.messages.message(task_id, kwargs, queue)
                pipe.lpush(queue, message)
                if self.events:
                    clock += 1
                    event = self.messages.sent_event(task_id, kwargsrepr, queue, clock, offset)
                    pipe.publish(self.topic, event)
            pipe.execute()
        self.clock = clock
        self._declared |= queues
