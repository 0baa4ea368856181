"""The kitchen's tasks: thin wrappers that name, retry, time-limit, log and report the cooking."""

import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any, NoReturn

from celery import Task, states
from celery.exceptions import Ignore, Reject, SoftTimeLimitExceeded
from celery.utils.log import get_task_logger
from kombu.exceptions import OperationalError
from redis.client import Pipeline

from kitchen.celery import app
from kitchen.current import get_kitchen, get_rules
from kitchen.events import KitchenNews, LedgerUnreachable, get_news
from kitchen.green import soft_time_limit
from kitchen.retry import retry_delay
from kitchen.stations import claim_station
from restaurant.claims import CookClaim, CookLease
from restaurant.events import Kind, OrderEvent, make_event
from restaurant.exceptions import InvalidOrder, KitchenTrouble, OrderCancelled, OrderFailed
from restaurant.menu import Dish
from restaurant.names import PREPARE_DISH
from restaurant.orders import MAX_DISH_NAME, Order, make_order

logger = get_task_logger(__name__)

_fallback_limits = get_kitchen().longest_limits()

#: Progress is published each time the cooking passes another quarter.
_PROGRESS_EVERY = 25
#: Seconds of cooking before a step looks at the order again (lease, progress, cancel).
_CHECK_IN_AFTER = 0.001
#: Seconds between two looks at an order another cook holds.
_WAIT_FOR_LEASE = 0.1


@app.task(  # type: ignore[untyped-decorator]
    bind=True,
    name=PREPARE_DISH,
    Request="kitchen.requests:DishRequest",
    # Retries are counted and bounded below, so that giving up can say why.
    max_retries=None,
    # Expected failures: recorded as FAILURE, logged without a traceback.
    throws=(InvalidOrder, OrderFailed),
    # A dish's result is written with its `ready` event, in one round trip (_result_writer);
    # Celery still stores failures, retries and revocations.
    ignore_result=True,
    store_errors_even_if_ignored=True,
    # Fallback limits for a message whose dish is unknown; known dishes get their own.
    soft_time_limit=_fallback_limits.soft,
    time_limit=_fallback_limits.hard,
)
def prepare_dish(self: Task, *args: Any, **fields: Any) -> dict[str, Any]:
    """Cook one dish for one table, publishing each step, and report how it went."""
    try:
        # The gevent pool has no soft time limit of its own (kitchen.green); prefork does.
        with soft_time_limit(self, fields):
            return _prepare(self, args, fields)
    except LedgerUnreachable as exc:
        # What happened could not be recorded: hand the message back, to be done again.
        logger.error("Handing order %s back: could not record %s", self.request.id, exc)
        raise Reject(str(exc), requeue=True) from None


def _prepare(self: Task, args: tuple[Any, ...], fields: dict[str, Any]) -> dict[str, Any]:
    """The body of prepare_dish: validate, claim, cook, record."""
    order_id = self.request.id
    attempt = self.request.retries + 1
    news = get_news()
    try:
        if args:
            raise InvalidOrder("prepare_dish takes keyword arguments only")
        order = make_order(fields, get_rules())
    except InvalidOrder as exc:
        news.tell_surely(
            Kind.FAILED, order_id, reason=f"invalid order: {exc}", attempt=attempt, **_known(fields)
        )
        raise
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

    def first_events() -> list[OrderEvent]:
        # Recorded with the claim, in the same round trip, once the lease is this cook's.
        return [
            make_event(Kind.RECEIVED, order_id, **where),
            make_event(Kind.PREPARING, order_id, percent=0, **where),
        ]

    claim = _claim(self, news, lease, dish, order, first_events=first_events)
    started_at = time.time()
    where["delivery"] = claim.delivery
    received = claim.recorded[0] if claim.recorded else None
    if received is not None and received.status == "cancelled":
        _give_up_cancelled(self, "%s for table %d was cancelled; not cooking it.", dish, order)
    logger.info("Preparing %s for table %d...", dish.name, order.table)
    try:
        report = _ProgressReport(news, order_id, where, lease if claim.guarded else None)
        cook_seconds = kitchen.cook(dish, attempt, report)
    except OrderCancelled:
        _give_up_cancelled(self, "Stopped cooking %s for table %d: cancelled.", dish, order)
    except CookReplaced as replaced:
        logger.warning(
            "Stopped cooking %s for table %d: %s has it now.", dish.name, order.table, replaced
        )
        raise Ignore() from None
    except KitchenTrouble as trouble:
        _retry_or_give_up(self, news, trouble, claim, where)
    except SoftTimeLimitExceeded:
        limit = kitchen.limits(dish).soft
        logger.warning(
            "%s for table %d took too long; stopped after %.1f s", dish.name, order.table, limit
        )
        reason = f"took too long: still cooking after the {limit:g} s limit"
        news.tell_surely(Kind.FAILED, order_id, reason=reason, **where)
        raise OrderFailed(reason) from None
    ready_at = time.time()
    cooked = round(cook_seconds, 3)
    result = {
        "order_id": order_id,
        "table": order.table,
        "dish": dish.name,
        "station": dish.station,
        "note": order.note,
        "attempts": attempt,
        "delivery": claim.delivery,
        "worker": self.request.hostname,
        "ordered_at": order.ordered_at,
        "started_at": started_at,
        "ready_at": ready_at,
        "cook_seconds": cooked,
    }
    store = _result_writer(self, result)
    news.tell_surely(
        Kind.READY,
        order_id,
        earlier=report.unsent,
        also=store,
        percent=100,
        cook_seconds=cooked,
        **where,
    )
    logger.info("%s for table %d is ready.", dish.name, order.table)
    return result


def _result_writer(task: Task, result: dict[str, Any]) -> Callable[[Pipeline], None]:
    """Queue the task's SUCCESS result as Celery's Redis backend writes it: SETEX and PUBLISH.

    The task ignores its result so that Celery does not store it a second time (a GET of the
    old result first, then the write: two more round trips); it goes with the `ready` event.
    """
    backend = task.backend
    # Celery's own layout of a result (status, date_done, result_extended's fields), so that
    # AsyncResult and Flower read it as if the backend had written it.
    meta = backend._get_result_meta(result, states.SUCCESS, None, task.request)
    meta["task_id"] = task.request.id
    key = backend.get_key_for_task(task.request.id)
    value = backend.encode(meta)
    expires = backend.expires

    def write(pipe: Pipeline) -> None:
        if expires:
            pipe.setex(key, expires, value)
        else:
            pipe.set(key, value)
        pipe.publish(key, value)

    return write


def _retry_or_give_up(
    task: Task, news: KitchenNews, trouble: KitchenTrouble, claim: CookClaim, where: dict[str, Any]
) -> NoReturn:
    """Send the order back for another attempt after a backoff, or fail it once out of tries."""
    order_id = task.request.id
    max_retries = task.app.conf.kitchen_max_retries
    # Tries count from the start of this round: `waiter retry` starts a new one.
    tries = where["attempt"] - claim.first_attempt + 1
    if tries > max_retries:
        reason = f"gave up after {tries} attempts: {trouble}"
        news.tell_surely(Kind.FAILED, order_id, reason=reason, error=str(trouble), **where)
        raise OrderFailed(reason) from None
    delay = retry_delay(
        tries - 1,
        base=task.app.conf.kitchen_retry_backoff,
        cap=task.app.conf.kitchen_retry_backoff_max,
    )
    logger.warning(
        "Trouble with %s for table %d (attempt %d of %d): %s; trying again in %.2f s",
        where["dish"],
        where["table"],
        tries,
        max_retries + 1,
        trouble,
        delay,
    )
    news.tell(Kind.RETRYING, order_id, reason=str(trouble), retry_in=round(delay, 3), **where)
    # The retry's task-sent event names this cook, not its pool process ("gen<pid>@host").
    announcer = task.app.events.Dispatcher(hostname=task.request.hostname, enabled=False)
    raise task.retry(exc=trouble, countdown=delay, event_dispatcher=announcer) from None


class CookReplaced(Exception):
    """Another cook holds the lease on the order this one was cooking."""


def _claim(
    task: Task,
    news: KitchenNews,
    lease: CookLease,
    dish: Dish,
    order: Order,
    *,
    first_events: Callable[[], list[OrderEvent]],
) -> CookClaim:
    """Claim the order for this cook, or settle a delivery that must not be cooked.

    Claimed, the order's `first_events()` are recorded with the claim, in one round trip.

    A finished order is acknowledged without cooking (a duplicate or a redelivery after the
    dish was done). An order another cook is working on is waited for: if that cook dies its
    lease lapses within KITCHEN_LEASE_SECONDS and this delivery takes over. A message
    delivered more than KITCHEN_MAX_DELIVERIES times, its cooks dying each time, is failed.
    """
    waiting = False
    try:
        while True:
            claim = news.claim(lease, first_events())
            if claim.verdict == "cook":
                return claim
            if claim.verdict == "finished":
                if claim.detail == "cancelled":
                    _give_up_cancelled(
                        task, "%s for table %d was cancelled; not cooking it.", dish, order
                    )
                logger.info(
                    "%s for table %d is already %s; not cooking it again.",
                    dish.name,
                    order.table,
                    claim.detail,
                )
                raise Ignore()
            if claim.verdict == "poison":
                reason = f"poison: its cook died on each of its {claim.delivery - 1} deliveries"
                logger.error("%s for table %d is %s", dish.name, order.table, reason)
                news.tell_surely(
                    Kind.FAILED,
                    lease.order_id,
                    reason=reason,
                    error="WorkerLostError: the pool process cooking it exited",
                    table=order.table,
                    dish=dish.name,
                    attempt=lease.attempt,
                    delivery=claim.delivery,
                    worker=task.request.hostname,
                )
                raise OrderFailed(reason)
            if not waiting:
                logger.info(
                    "%s for table %d is in another cook's hands (%s); waiting.",
                    dish.name,
                    order.table,
                    claim.detail,
                )
                waiting = True
            time.sleep(_WAIT_FOR_LEASE)
    except SoftTimeLimitExceeded:
        if waiting:
            # The other cook has had longer than this dish may take: it finishes or fails it.
            logger.warning(
                "Dropped a duplicate delivery of %s for table %d.", dish.name, order.table
            )
            raise Ignore() from None
        # The ledger did not answer in time (Redis restarting): the dish never started.
        logger.warning("Handing %s for table %d back: no claim in time.", dish.name, order.table)
        raise Reject("no claim within the time limit", requeue=True) from None


class _ProgressReport:
    """Called at each step of the cooking: keeps the lease, reports progress, sees a cancel.

    A step that follows the last look at the order within _CHECK_IN_AFTER waits for the next
    one: there is no lease to renew and no cancel to see yet. A dish of no time at all so
    sends its progress with its `ready` event (`unsent`), in the same round trip.
    """

    def __init__(
        self,
        news: KitchenNews,
        order_id: str,
        where: dict[str, Any],
        lease: CookLease | None,
    ) -> None:
        self.news = news
        self.order_id = order_id
        self.where = where
        self.lease = lease
        self.next_report = _PROGRESS_EVERY
        self.unsent: list[OrderEvent] = []
        self.checked_in = time.monotonic()

    def __call__(self, percent: int) -> None:
        if percent >= self.next_report:
            self.next_report = (percent // _PROGRESS_EVERY + 1) * _PROGRESS_EVERY
            self.unsent.append(
                make_event(Kind.PROGRESS, self.order_id, percent=percent, **self.where)
            )
        if time.monotonic() - self.checked_in < _CHECK_IN_AFTER:
            return
        held, status = self.news.check_in(self.lease, self.unsent)
        self.unsent = []
        self.checked_in = time.monotonic()
        if not held:
            raise CookReplaced("another cook")
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
