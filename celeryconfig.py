"""Celery settings for the waiter and the kitchen, read from the environment.

Print the effective settings with `python -m celeryconfig`.
"""

from types import ModuleType

from restaurant import sentinel
from restaurant.env import env_float, env_int, env_str
from restaurant.names import ORDERS_QUEUE

# --- Where messages and results live -------------------------------------------------------
redis_url = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
# A Sentinel URL (sentinel://h1:26379;sentinel://h2:26379/0) with the database written on every
# part, where kombu and Celery look for it (restaurant/sentinel.py).
broker_url = sentinel.canonical(env_str("BROKER_URL", redis_url))
result_backend = sentinel.canonical(env_str("RESULT_BACKEND", redis_url))

# --- Serialization: JSON only, so a planted pickle is refused, never loaded ------------------
task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
result_accept_content = ["json"]

# --- Delivery: a message is acknowledged only after its dish is done ----------------------
task_acks_late = True
# A pool child that dies mid-cook (killed, out of memory) hands its message back to the queue.
task_reject_on_worker_lost = True
# Each pool process reserves one order at a time, so a busy cook never hoards the queue.
worker_prefetch_multiplier = 1
task_default_queue = ORDERS_QUEUE

# --- Retries of kitchen trouble (used by kitchen.tasks) ------------------------------------
kitchen_max_retries = env_int("KITCHEN_MAX_RETRIES", 3, minimum=0, maximum=100)
kitchen_retry_backoff = env_float("KITCHEN_RETRY_BACKOFF", 1.0, minimum=0.0, maximum=3600)
kitchen_retry_backoff_max = env_float("KITCHEN_RETRY_BACKOFF_MAX", 30.0, minimum=0.0, maximum=3600)
# Seconds an order waits before trying again for a place at a full station (kitchen.stations).
kitchen_station_wait = env_float("KITCHEN_STATION_WAIT", 0.5, minimum=0.01, maximum=60)

# --- Exactly-once cooking on top of at-least-once delivery (used by kitchen.tasks) ----------
# A message is delivered again when its cook dies; one that kills its cook every time is
# filed as a dead letter after this many deliveries of one attempt, instead of looping.
kitchen_max_deliveries = env_int("KITCHEN_MAX_DELIVERIES", 3, minimum=1, maximum=100)
# A cook holds a lease on the order it cooks, renewed at every step (a fraction of a second);
# a duplicate delivery waits while it is held, and a dead cook's lease lapses after this long.
kitchen_lease_seconds = env_float("KITCHEN_LEASE_SECONDS", 3.0, minimum=0.5, maximum=600)
# How long a cook keeps trying to record a dish's outcome (ready, failed) while Redis is away.
kitchen_report_patience = env_float("KITCHEN_REPORT_PATIENCE", 15.0, minimum=0.0, maximum=600)
# A worker beats every sixth of this; one silent this long is presumed dead, and another worker
# puts the messages it held (on the stove or reserved) back in their queues (kitchen/liveness.py).
# The visibility timeout stays the last resort, for messages no live worker claims.
kitchen_dead_after = env_float("KITCHEN_DEAD_AFTER", 6.0, minimum=1.0, maximum=600)

# --- Shutdown: SIGTERM lets the dishes on the stove finish; reserved orders go back at once ---
# On a cold shutdown (SIGQUIT, or a second Ctrl-C) dishes still get this long before they
# are stopped and handed back to the queue.
worker_soft_shutdown_timeout = env_float(
    "WORKER_SOFT_SHUTDOWN_TIMEOUT", 10.0, minimum=0.0, maximum=3600
)

# --- Redelivery ------------------------------------------------------------------------------
# Redis has no real acknowledgements: kombu re-queues a message that stays unacknowledged for
# longer than the visibility timeout. A dish may legitimately hold its message for its hard
# time limit, and a retry waits in the worker for up to the longest backoff, so the timeout
# must exceed both together or a slow dish is delivered twice. kitchen.celery checks this at
# start-up against the menu.
visibility_timeout = env_int("VISIBILITY_TIMEOUT", 3600, minimum=1)
# How often a worker looks for messages abandoned by a dead worker (unacknowledged for longer
# than the visibility timeout) and puts them back in their queue. kombu's default scans
# every 10th sweep of 10 s; here every sweep scans (one cheap sorted-set query).
_restore_interval = env_int("BROKER_RESTORE_INTERVAL", 10, minimum=1, maximum=3600)

# --- Bounded waits, so that a waiter facing a dead or silent Redis answers in seconds ----------
_connect_timeout = env_float("REDIS_CONNECT_TIMEOUT", 2.0, minimum=0.1, maximum=60)
_command_timeout = env_float("REDIS_SOCKET_TIMEOUT", 5.0, minimum=0.1, maximum=3600)

broker_transport_options = {
    "visibility_timeout": visibility_timeout,
    "unacked_restore_interval": _restore_interval,
    "unacked_restore_throttle": 1,
    # A Redis cook reads rush queues before the others (restaurant/queue_order.py); RabbitMQ
    # ignores this and gets the same effect from one prefetch per queue (docs/kitchen.md).
    "queue_order_strategy": "restaurant.queue_order:RushFirstCycle",
    "socket_connect_timeout": _connect_timeout,
    "socket_timeout": _command_timeout,
}
result_backend_transport_options: dict[str, object] = {"visibility_timeout": visibility_timeout}
# Sentinel: the master's name and the sentinels' own password, for kombu and for Celery.
if sentinel.is_sentinel(broker_url):
    broker_transport_options.update(sentinel.transport_options())
if sentinel.is_sentinel(result_backend):
    result_backend_transport_options.update(sentinel.transport_options())

# --- Results -----------------------------------------------------------------------------------
result_expires = env_int("RESULT_EXPIRES", 86_400, minimum=1)
# Keep the order's arguments, worker and retry count beside its result, for `waiter status`.
result_extended = True
# No STARTED record in the result backend: the ledger says "preparing", Flower hears the
# worker's task-started event, and a write before the dish starts is one more Redis round trip
# that, during a Redis restart, failed outside the task body and stranded the dish.
task_track_started = False

# --- Events for Flower ---------------------------------------------------------------------------
worker_send_task_events = True
task_send_sent_event = True
# A cook's task events are published together at most this often (kitchen/consumer.py), not
# one PUBLISH each: Flower hears of a task up to this much later. 0: at once, as Celery does.
worker_consumer = "kitchen.consumer:KitchenConsumer"
kitchen_event_batch_seconds = env_float("KITCHEN_EVENT_BATCH", 0.01, minimum=0.0, maximum=1.0)

# --- Connections: bounded for the waiter; the worker reconnects for as long as it runs --------
broker_connection_timeout = _connect_timeout
broker_connection_retry_on_startup = True
task_publish_retry_policy = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
redis_socket_connect_timeout = _connect_timeout
redis_socket_timeout = _command_timeout
redis_retry_on_timeout = False
result_backend_always_retry = False


def _show() -> None:
    """Print the effective settings, with passwords masked."""
    settings = {
        name: value
        for name, value in sorted(globals().items())
        if not name.startswith("_")
        and not callable(value)
        and name.islower()
        and not isinstance(value, ModuleType)
    }
    for name, value in settings.items():
        print(f"{name} = {_masked(name, value)!r}")  # noqa: T201


def _masked(name: str, value: object) -> object:
    """A setting as it may be shown: URLs without their password, no password at all."""
    if isinstance(value, dict):
        return {key: _masked(str(key), item) for key, item in value.items()}
    if isinstance(value, str) and "password" in name:
        return "**"
    if isinstance(value, str) and name.endswith(("_url", "_backend")):
        return sentinel.sanitized(value)
    return value


if __name__ == "__main__":
    _show()
