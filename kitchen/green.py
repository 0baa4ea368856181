"""Time limits for a kitchen on Celery's gevent pool (`celery -A kitchen worker -P gevent`).

The gevent pool cooks hundreds of dishes at once in one process, but it enforces only the hard
time limit: `celery/concurrency/gevent.py` runs each task inside `gevent.Timeout(timeout)`,
where `timeout` is the request's own hard limit (the dish's, from `DishRequest.time_limits`),
and when it passes calls `DishRequest.on_timeout(False, ...)`, which records the order failed as
"killed at its hard time limit" exactly as under prefork. The soft limit it drops. This module
restores it: the dish's soft limit raises `SoftTimeLimitExceeded` inside the dish's greenlet,
so the task's own handling of it (the order fails as "took too long") runs unchanged. The hard
limit is left to the pool, so it is never applied twice.

A greenlet can only be interrupted while it yields (sleeps, waits on a socket): under gevent's
monkey patching every wait of the kitchen does, but a dish spinning in pure Python would never
see either limit. Under prefork (or any pool without gevent's patching) nothing here acts.

At start a gevent worker also makes room for its greenlets: a broker connection each, and one
result backend shared by all (`_ready_for_hundreds_of_cooks`).
"""

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_init

from kitchen.current import get_kitchen

logger = logging.getLogger(__name__)

#: kombu's cap on a worker's Redis broker connections, enough for its main loop alone.
_BROKER_CONNECTIONS = 10


def green() -> bool:
    """Say whether this process runs on gevent, its waits patched to yield (`-P gevent`)."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and bool(monkey.is_module_patched("time"))


def soft_limit(task: Task, fields: dict[str, Any]) -> float | None:
    """The soft limit of the dish `fields` names, else the task's own (for an unknown dish)."""
    dish_name = fields.get("dish")
    dish = get_kitchen().menu.find(dish_name) if isinstance(dish_name, str) else None
    if dish is not None:
        return get_kitchen().limits(dish).soft
    seconds = task.soft_time_limit
    return float(seconds) if seconds else None


@contextmanager
def soft_time_limit(task: Task, fields: dict[str, Any]) -> Iterator[None]:
    """Under the gevent pool, raise SoftTimeLimitExceeded in the block after the soft limit.

    Logged as the prefork pool logs it. Elsewhere (prefork) this does nothing: the pool does it.
    """
    seconds = soft_limit(task, fields) if green() else None
    if seconds is None:
        yield
        return
    import gevent  # noqa: PLC0415 (only a gevent worker gets here, and it has gevent loaded)

    cook = gevent.getcurrent()
    # Read now: the timer fires in gevent's hub, where the task's request is not current.
    order_id = task.request.id
    timer = gevent.get_hub().loop.timer(seconds)

    def expire() -> None:
        logger.warning("Soft time limit (%ss) exceeded for %s[%s]", seconds, task.name, order_id)
        cook.throw(SoftTimeLimitExceeded(seconds))

    timer.start(expire)
    try:
        yield
    finally:
        timer.close()


@worker_init.connect(weak=False)  # type: ignore[untyped-decorator]
def _ready_for_hundreds_of_cooks(sender: Any, **_: Any) -> None:
    # Under gevent each greenlet acknowledges its own message on the broker's connection pool,
    # which kombu caps at 10 and which raises MaxConnectionsError beyond: hundreds of dishes
    # ending together may each need a connection. Off Sentinel they wait for one of a few
    # instead (kitchen/transport.py); through Sentinel, kombu's pool opens one per caller.
    # Prefork acknowledges from its main loop alone.
    if not green():
        return
    conf = sender.app.conf
    concurrency = sender.concurrency if isinstance(sender.concurrency, int) else 0
    needed = concurrency + _BROKER_CONNECTIONS
    options = dict(conf.broker_transport_options or {})
    if int(options.get("max_connections") or _BROKER_CONNECTIONS) < needed:
        options["max_connections"] = needed
        conf.broker_transport_options = options
    # Celery keeps one result backend per thread, and gevent makes every greenlet a thread:
    # each dish would build its own backend and connection pool. redis-py's pool is safe to
    # share between greenlets, so one backend serves them all.
    conf.result_backend_thread_safe = True
