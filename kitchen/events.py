"""Publishing order events from the kitchen: never at the cost of the dish being cooked."""

import logging
import os
from functools import cache
from typing import Any

import redis

from kitchen.celery import app
from restaurant.connections import bounded_redis
from restaurant.events import Kind, make_event
from restaurant.ledger import Ledger, Recorded
from restaurant.settings import load_settings

logger = logging.getLogger(__name__)


class KitchenNews:
    """Tells the ledger (and so every subscriber) how orders are going.

    A failed publish is logged and forgotten: the ledger and the events are news about the
    cooking, and a cook never stops cooking because the news could not be sent.
    """

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def tell(self, kind: Kind, order_id: str, **fields: Any) -> Recorded | None:
        """Record and publish one event; return what the ledger did, or None if it failed."""
        try:
            event = make_event(kind, order_id, **fields)
            return self.ledger.record(event)
        except (redis.RedisError, OSError, ValueError) as exc:
            logger.warning("Could not publish the %s event of order %s: %s", kind, order_id, exc)
            return None

    def status(self, order_id: str) -> str | None:
        """Return the order's status in the ledger, or None when unknown or unreadable."""
        try:
            return self.ledger.status(order_id)
        except (redis.RedisError, OSError) as exc:
            logger.warning("Could not read the status of order %s: %s", order_id, exc)
            return None


@cache
def _news_for(pid: int) -> KitchenNews:
    # One try only: a retried publish would hold up the dish for nothing.
    timeout = float(app.conf.broker_connection_timeout)
    client = bounded_redis(app.conf.result_backend, timeout, "kitchen")
    settings = load_settings()
    return KitchenNews(Ledger(client, settings.retention, settings.recent_limit))


def get_news() -> KitchenNews:
    """Return this process's publisher (each pool process opens its own connections)."""
    return _news_for(os.getpid())
