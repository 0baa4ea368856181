"""The kitchen's tasks: thin wrappers that name, retry, time-limit and log the cooking."""

import time
from typing import Any

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded
from celery.utils.log import get_task_logger

from kitchen.celery import app
from kitchen.current import get_kitchen, get_rules
from kitchen.retry import retry_delay
from restaurant.exceptions import InvalidOrder, KitchenTrouble, OrderFailed
from restaurant.names import PREPARE_DISH
from restaurant.orders import make_order

logger = get_task_logger(__name__)

_fallback_limits = get_kitchen().longest_limits()


@app.task(  # type: ignore[untyped-decorator]
    bind=True,
    name=PREPARE_DISH,
    Request="kitchen.requests:DishRequest",
    # Retries are counted and bounded below, so that giving up can say why.
    max_retries=None,
    # Expected failures: recorded as FAILURE, logged without a traceback.
    throws=(InvalidOrder, OrderFailed),
    # Fallback limits for a message whose dish is unknown; known dishes get their own.
    soft_time_limit=_fallback_limits.soft,
    time_limit=_fallback_limits.hard,
)
def prepare_dish(self: Task, *args: Any, **fields: Any) -> dict[str, Any]:
    """Cook one dish for one table and report how it went."""
    if args:
        raise InvalidOrder("prepare_dish takes keyword arguments only")
    kitchen = get_kitchen()
    order = make_order(fields, get_rules())
    dish = kitchen.menu[order.dish]
    attempt = self.request.retries + 1
    started_at = time.time()
    logger.info("Preparing %s for table %d...", dish.name, order.table)
    try:
        cook_seconds = kitchen.cook(dish, attempt)
    except KitchenTrouble as trouble:
        max_retries = self.app.conf.kitchen_max_retries
        if attempt > max_retries:
            raise OrderFailed(f"gave up after {attempt} attempts: {trouble}") from None
        delay = retry_delay(
            attempt - 1,
            base=self.app.conf.kitchen_retry_backoff,
            cap=self.app.conf.kitchen_retry_backoff_max,
        )
        logger.warning(
            "Trouble with %s for table %d (attempt %d of %d): %s; trying again in %.2f s",
            dish.name,
            order.table,
            attempt,
            max_retries + 1,
            trouble,
            delay,
        )
        raise self.retry(exc=trouble, countdown=delay) from None
    except SoftTimeLimitExceeded:
        limit = kitchen.limits(dish).soft
        logger.warning(
            "%s for table %d took too long; stopped after %.1f s", dish.name, order.table, limit
        )
        raise OrderFailed(f"took too long: still cooking after the {limit:g} s limit") from None
    ready_at = time.time()
    logger.info("%s for table %d is ready.", dish.name, order.table)
    return {
        "order_id": self.request.id,
        "table": order.table,
        "dish": dish.name,
        "station": dish.station,
        "note": order.note,
        "attempts": attempt,
        "worker": self.request.hostname,
        "ordered_at": order.ordered_at,
        "started_at": started_at,
        "ready_at": ready_at,
        "cook_seconds": round(cook_seconds, 3),
    }
