"""The queues a cook consumes: every station's (rush ones first), or those chosen with -Q."""

import logging
from typing import Any

from celery import Celery
from celery.signals import celeryd_after_setup
from kombu.entity import Exchange, Queue

from restaurant.menu import Menu
from restaurant.names import ORDERS_QUEUE
from restaurant.routing import is_rush_queue, rush_first

logger = logging.getLogger(__name__)


def kitchen_queues(menu: Menu) -> list[Queue]:
    """Every queue a plain `celery -A kitchen worker` serves, in the order it reads them.

    Each station's rush queue, then each station's queue, then the default queue (messages sent
    without a station). The queues are declared as Celery would declare a missing one, so the
    waiter (which names the queue when it sends) and the kitchen always agree on them.
    """
    names = [*rush_first(menu.stations), ORDERS_QUEUE]
    return [Queue(name, Exchange(name), routing_key=name) for name in names]  # type: ignore[no-untyped-call]


def rush_queues_first(app: Celery, menu: Menu) -> None:
    """Add the rush queue of each station chosen with -Q, and read rush queues first."""
    queues = app.amqp.queues
    chosen = list(queues.consume_from)
    known = {*menu.stations, ORDERS_QUEUE}
    for name in chosen:
        if name not in known and not is_rush_queue(name):
            logger.warning("Queue %r is not a station on the menu (%s)", name, ", ".join(known))
    queues.select(rush_first(chosen))


def install(app: Celery, menu: Menu) -> None:
    """Serve every station by default; at start-up, put rush queues first (also with -Q)."""
    app.conf.task_queues = kitchen_queues(menu)

    @celeryd_after_setup.connect(weak=False)  # type: ignore[untyped-decorator]
    def _reorder(sender: str, instance: Any, **_: Any) -> None:
        rush_queues_first(instance.app, menu)
