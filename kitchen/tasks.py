"""The kitchen's tasks: thin wrappers that name, retry, time-limit, log and report the cooking."""

import time
from contextlib import suppress
from typing import Any, NoReturn

from celery import Task
from celery.exceptions import Ignore, SoftTimeLimitExceeded
from celery.utils.log import get_task_logger
from kombu.exceptions import OperationalError

from kitchen.celery import app
from kitchen.current import get_kitchen, get_rules
from kitchen.events import KitchenNews, get_news
from kitchen.retry import retry_delay
from kitchen.stations import claim_station
from restaurant.events import Kind
from restaurant.exceptions import InvalidOrder, KitchenTrouble, OrderCancelled, OrderFailed
from restaurant.menu import Dish
from restaurant.names import PREPARE_DISH
from restaurant.orders import MAX_DISH_NAME, Order, make_order

logger = get_task_logger(__name__)

_fallback_limits = get_kitchen().longest_limits()

#: Progress is published each time the cooking passes another quarter.
_PROGRESS_EVERY = 25


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
    """Cook one dish for one table, publishing each step, and report how it went."""
    order_id = self.request.id
    attempt = self.request.retries + 1
    news = get_news()
    try:
        if args:
            raise InvalidOrder("prepare_dish takes keyword arguments only")
        order = make_order(fields, get_rules())
    except InvalidOrder as exc:
        news.tell(Kind.FAILED, order_id, reason=str(exc), attempt=attempt, **_known(fields))
        raise
    kitchen = get_kitchen()
    dish = kitchen.menu[order.dish]
    where = {
        "table": order.table,
        "dish": dish.name,
        "station": dish.station,
        "attempt": attempt,
        "worker": self.request.hostname,
    }
    received = news.tell(Kind.RECEIVED, order_id, **where)
    if received is not None and received.status == "cancelled":
        _give_up_cancelled(self, "%s for table %d was cancelled; not cooking it.", dish, order)
    # A place at the station (its capacity is shared by every worker), or back to the queue.
    claim_station(self, dish, order_id)
    started_at = time.time()
    logger.info("Preparing %s for table %d...", dish.name, order.table)
    news.tell(Kind.PREPARING, order_id, percent=0, **where)
    try:
        cook_seconds = kitchen.cook(dish, attempt, _ProgressReport(news, order_id, where))
    except OrderCancelled:
        _give_up_cancelled(self, "Stopped cooking %s for table %d: cancelled.", dish, order)
    except KitchenTrouble as trouble:
        max_retries = self.app.conf.kitchen_max_retries
        if attempt > max_retries:
            reason = f"gave up after {attempt} attempts: {trouble}"
            news.tell(Kind.FAILED, order_id, reason=reason, **where)
            raise OrderFailed(reason) from None
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
        news.tell(Kind.RETRYING, order_id, reason=str(trouble), retry_in=round(delay, 3), **where)
        # The retry's task-sent event names this cook, not its pool process ("gen<pid>@host").
        announcer = self.app.events.Dispatcher(hostname=self.request.hostname, enabled=False)
        raise self.retry(exc=trouble, countdown=delay, event_dispatcher=announcer) from None
    except SoftTimeLimitExceeded:
        limit = kitchen.limits(dish).soft
        logger.warning(
            "%s for table %d took too long; stopped after %.1f s", dish.name, order.table, limit
        )
        reason = f"took too long: still cooking after the {limit:g} s limit"
        news.tell(Kind.FAILED, order_id, reason=reason, **where)
        raise OrderFailed(reason) from None
    ready_at = time.time()
    logger.info("%s for table %d is ready.", dish.name, order.table)
    cooked = round(cook_seconds, 3)
    news.tell(Kind.READY, order_id, percent=100, cook_seconds=cooked, **where)
    return {
        "order_id": order_id,
        "table": order.table,
        "dish": dish.name,
        "station": dish.station,
        "note": order.note,
        "attempts": attempt,
        "worker": self.request.hostname,
        "ordered_at": order.ordered_at,
        "started_at": started_at,
        "ready_at": ready_at,
        "cook_seconds": cooked,
    }


class _ProgressReport:
    """Called while a dish cooks: publishes progress and notices a cancellation."""

    def __init__(self, news: KitchenNews, order_id: str, where: dict[str, Any]) -> None:
        self.news = news
        self.order_id = order_id
        self.where = where
        self.next_report = _PROGRESS_EVERY

    def __call__(self, percent: int) -> None:
        if percent >= self.next_report:
            self.next_report = (percent // _PROGRESS_EVERY + 1) * _PROGRESS_EVERY
            recorded = self.news.tell(Kind.PROGRESS, self.order_id, percent=percent, **self.where)
            status = recorded.status if recorded is not None else None
        else:
            status = self.news.status(self.order_id)
        if status == "cancelled":
            raise OrderCancelled(self.order_id)


def _give_up_cancelled(task: Task, message: str, dish: Dish, order: Order) -> NoReturn:
    """Stop work on a cancelled order: its message is acknowledged, its result says revoked."""
    logger.info(message, dish.name, order.table)
    task.backend.mark_as_revoked(task.request.id, "cancelled", request=task.request)
    # An ignored task sends no event of its own: tell Flower it was revoked.
    with suppress(OperationalError, OSError):
        task.send_event("task-revoked", terminated=False, signum=None, expired=False)
    raise Ignore()


def _known(fields: dict[str, Any]) -> dict[str, Any]:
    """The table and dish of a message that failed its checks, where they are plausible."""
    known: dict[str, Any] = {}
    table, dish = fields.get("table"), fields.get("dish")
    if isinstance(table, int) and not isinstance(table, bool):
        known["table"] = table
    if isinstance(dish, str) and len(dish) <= MAX_DISH_NAME:
        known["dish"] = dish
    return known
