"""The kitchen's tasks: thin wrappers that name, retry, time-limit, log and report the cooking."""

import time
from typing import Any

from celery import Task
from celery.exceptions import Ignore, Reject, SoftTimeLimitExceeded
from celery.utils.log import get_task_logger

from kitchen.celery import app
from kitchen.claiming import (
    CookReplaced,
    claim_order,
    give_up_cancelled,
    hand_back_unclaimed,
    settle_unclaimed,
)
from kitchen.current import get_kitchen, get_rules
from kitchen.events import KitchenNews, LedgerUnreachable, get_news
from kitchen.green import soft_time_limit
from kitchen.late_signal import dish_in_hand
from kitchen.reporting import (
    CHECK_IN_AFTER,
    DishResult,
    ProgressReport,
    known_fields,
    result_before_claim,
    result_writer,
    retry_or_give_up,
)
from kitchen.stations import claim_station
from restaurant.claims import CookLease
from restaurant.events import Kind, OrderEvent, make_event
from restaurant.exceptions import InvalidOrder, KitchenTrouble, OrderCancelled, OrderFailed
from restaurant.menu import Dish
from restaurant.names import PREPARE_DISH
from restaurant.orders import Order, make_order

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
    # A dish's result is written with its `ready` event, in one round trip (result_writer);
    # Celery still stores failures, retries and revocations.
    ignore_result=True,
    store_errors_even_if_ignored=True,
    # Fallback limits for a message whose dish is unknown; known dishes get their own.
    soft_time_limit=_fallback_limits.soft,
    time_limit=_fallback_limits.hard,
)
def prepare_dish(self: Task, *args: Any, **fields: Any) -> DishResult:
    """Cook one dish for one table, publishing each step, and report how it went."""
    try:
        # The gevent pool has no soft time limit of its own (kitchen.green); prefork does, and
        # its signal may come after the dish has ended (kitchen.late_signal).
        with soft_time_limit(self, fields), dish_in_hand():
            return _prepare(self, args, fields)
    except LedgerUnreachable as exc:
        # What happened could not be recorded: hand the message back, to be done again.
        logger.error("Handing order %s back: could not record %s", self.request.id, exc)
        raise Reject(str(exc), requeue=True) from None


def _prepare(self: Task, args: tuple[Any, ...], fields: dict[str, Any]) -> DishResult:
    """The body of prepare_dish: validate, claim, cook, record."""
    order_id = self.request.id
    attempt = self.request.retries + 1
    news = get_news()
    order = _valid_order(news, order_id, attempt, args, fields)
    kitchen = get_kitchen()
    dish = kitchen.menu[order.dish]
    # A place at the station (its capacity is shared by every worker), or back to the queue:
    # taken first, so that waiting for the station does not count as a delivery.
    claim_station(self, dish, order_id)
    lease = news.lease(order_id, attempt)
    where = {
        "table": order.table,
        "dish": dish.name,
        "station": dish.station,
        "attempt": attempt,
        "worker": self.request.hostname,
    }
    ahead = kitchen.trouble_for(dish, attempt)
    # A dish done before its first check-in sends its `preparing` only if it is still cooking
    # then (ProgressReport): its `ready`, a moment later, says more.
    instant = kitchen.longest_cook(dish) < CHECK_IN_AFTER
    if instant and ahead is None:
        done = _cook_at_once(self, news, lease, dish=dish, order=order, where=where)
        if done is not None:
            return done
    claim = claim_order(
        self,
        news,
        lease,
        dish,
        order,
        first_events=lambda: _first_events(order_id, where, instant=instant),
    )
    started_at = time.time()
    where["delivery"] = claim.delivery
    received = claim.recorded[0] if claim.recorded else None
    if received is not None and received.status == "cancelled":
        give_up_cancelled(self, "%s for table %d was cancelled; not cooking it.", dish, order)
    logger.info("Preparing %s for table %d...", dish.name, order.table)
    try:
        report = ProgressReport(
            news,
            order_id,
            where,
            lease if claim.guarded else None,
            preparing_at=started_at if instant else None,
        )
        cook_seconds = kitchen.cook(dish, attempt, report, trouble=ahead)
    except OrderCancelled:
        give_up_cancelled(self, "Stopped cooking %s for table %d: cancelled.", dish, order)
    except CookReplaced as replaced:
        logger.warning(
            "Stopped cooking %s for table %d: %s has it now.", dish.name, order.table, replaced
        )
        raise Ignore() from None
    except KitchenTrouble as trouble:
        retry_or_give_up(self, news, trouble, claim, where)
    except SoftTimeLimitExceeded:
        limit = kitchen.limits(dish).soft
        logger.warning(
            "%s for table %d took too long; stopped after %.1f s", dish.name, order.table, limit
        )
        reason = f"took too long: still cooking after the {limit:g} s limit"
        news.tell_surely(Kind.FAILED, order_id, reason=reason, **where)
        raise OrderFailed(reason) from None
    result = _result(
        self, order, dish, delivery=claim.delivery, started_at=started_at, cook_seconds=cook_seconds
    )
    store = result_writer(self, result)
    try:
        news.tell_surely(
            Kind.READY,
            order_id,
            also=store,
            percent=100,
            cook_seconds=result["cook_seconds"],
            **where,
        )
    except SoftTimeLimitExceeded:
        # Cooked in time, but Redis was away (failing over) until the limit: hand it back
        # rather than fail a dish that was done, or leave it unrecorded.
        raise LedgerUnreachable(f"the ready event of order {order_id}: the time ran out") from None
    logger.info("%s for table %d is ready.", dish.name, order.table)
    return DishResult(result)


def _valid_order(
    news: KitchenNews, order_id: str, attempt: int, args: tuple[Any, ...], fields: dict[str, Any]
) -> Order:
    """The order a message asks for; one that fails its checks is recorded failed, and raised."""
    try:
        if args:
            raise InvalidOrder("prepare_dish takes keyword arguments only")
        return make_order(fields, get_rules())
    except InvalidOrder as exc:
        news.tell_surely(
            Kind.FAILED,
            order_id,
            reason=f"invalid order: {exc}",
            attempt=attempt,
            **known_fields(fields),
        )
        raise


def _cook_at_once(
    task: Task,
    news: KitchenNews,
    lease: CookLease,
    *,
    dish: Dish,
    order: Order,
    where: dict[str, Any],
) -> DishResult | None:
    """Cook a dish of no time, then claim it with its `ready` event and result: one round trip.

    Nothing is seen of the dish before it is recorded: the claim, its received and ready
    events and its result are one step in the ledger, taken only if this delivery may cook
    it. Returns None, with nothing recorded, when another cook holds the order or the backend
    does not store results as JSON: the dish then goes the ordinary way.
    """
    order_id = task.request.id
    started_at = time.time()
    seconds = get_kitchen().cook(dish, where["attempt"], trouble=None)
    result = _result(task, order, dish, delivery=0, started_at=started_at, cook_seconds=seconds)
    stored = result_before_claim(task, result)
    if stored is None:
        return None
    events = [
        make_event(Kind.RECEIVED, order_id, time=started_at, **where),
        make_event(Kind.READY, order_id, percent=100, cook_seconds=result["cook_seconds"], **where),
    ]
    try:
        claim = news.finish_at_once(lease, events, stored)
        if claim.verdict != "cook":
            settle_unclaimed(task, news, lease, claim, dish=dish, order=order)
            return None
    except SoftTimeLimitExceeded:
        hand_back_unclaimed(dish, order)
    logger.info("Preparing %s for table %d...", dish.name, order.table)
    logger.info("%s for table %d is ready.", dish.name, order.table)
    return DishResult({**result, "delivery": claim.delivery})


def _result(
    task: Task, order: Order, dish: Dish, *, delivery: int, started_at: float, cook_seconds: float
) -> dict[str, Any]:
    """What a dish cooked for this task's order returns, and leaves as its result."""
    return {
        "order_id": task.request.id,
        "table": order.table,
        "dish": dish.name,
        "station": dish.station,
        "note": order.note,
        "attempts": task.request.retries + 1,
        "delivery": delivery,
        "worker": task.request.hostname,
        "ordered_at": order.ordered_at,
        "started_at": started_at,
        "ready_at": time.time(),
        "cook_seconds": round(cook_seconds, 3),
    }


def _first_events(order_id: str, where: dict[str, Any], *, instant: bool) -> list[OrderEvent]:
    """The events recorded with the claim, in its round trip, once the lease is this cook's."""
    received = make_event(Kind.RECEIVED, order_id, **where)
    if instant:
        return [received]
    return [received, make_event(Kind.PREPARING, order_id, percent=0, **where)]
