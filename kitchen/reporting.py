"""Reporting a dish: progress while it cooks, its result, a retry or a failure after trouble."""

import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NoReturn

from celery import Task, states
from celery.utils.log import get_task_logger
from redis.client import Pipeline

from kitchen.claiming import CookReplaced
from kitchen.events import KitchenNews, queue_result
from kitchen.retry import retry_delay
from restaurant.claims import CookClaim, CookLease, ResultWrite
from restaurant.events import Kind, make_event
from restaurant.exceptions import KitchenTrouble, OrderCancelled, OrderFailed
from restaurant.orders import MAX_DISH_NAME

logger = get_task_logger(__name__)

#: Progress is published each time the cooking passes another quarter.
_PROGRESS_EVERY = 25
#: Seconds of cooking before a step looks at the order again (lease, progress, cancel).
CHECK_IN_AFTER = 0.001


class ProgressReport:
    """Called at each step of the cooking: keeps the lease, reports progress, sees a cancel.

    A step that follows the last look at the order within CHECK_IN_AFTER waits for the next
    one: there is no lease to renew and no cancel to see yet. Progress still unsent when the
    dish is done is dropped, since its `ready` event (100 %) says more: a dish of no time at
    all (done within one check-in) so costs the ledger its ready event alone, not three
    progress events before it that no one could have seen apart.

    Such a dish's `preparing` event (0 %) waits with its progress, from `preparing_at`: it is
    sent, with its own time, only if the dish is still cooking at a check-in (slowed down by
    trouble), and otherwise its `ready` event a moment later says more.
    """

    def __init__(
        self,
        news: KitchenNews,
        order_id: str,
        where: dict[str, Any],
        lease: CookLease | None,
        preparing_at: float | None = None,
    ) -> None:
        self.news = news
        self.order_id = order_id
        self.where = where
        self.lease = lease
        self.next_report = _PROGRESS_EVERY
        #: Progress passed since the last check-in, as (percent, when): its events are built
        #: only when sent, so a dish done before it checks in builds none.
        self.unsent: list[tuple[int, float]] = [] if preparing_at is None else [(0, preparing_at)]
        self.checked_in = time.monotonic()

    def __call__(self, percent: int) -> None:
        if percent >= self.next_report:
            self.next_report = (percent // _PROGRESS_EVERY + 1) * _PROGRESS_EVERY
            self.unsent.append((percent, time.time()))
        if time.monotonic() - self.checked_in < CHECK_IN_AFTER:
            return
        progress = [
            make_event(
                Kind.PROGRESS if done else Kind.PREPARING,
                self.order_id,
                percent=done,
                time=at,
                **self.where,
            )
            for done, at in self.unsent
        ]
        held, status = self.news.check_in(self.lease, progress)
        self.unsent = []
        self.checked_in = time.monotonic()
        if not held:
            raise CookReplaced("another cook")
        if status == "cancelled":
            raise OrderCancelled(self.order_id)


class DishResult(Mapping[str, Any]):
    """A cooked dish's result as the task returns it, for Celery to log and announce.

    Its text is the dict's own. Celery makes that text with `saferepr`, which walks a dict key
    by key in Python (about 77 us for a dish's twelve fields, a tenth of a pool process's time
    for a dish of no time) and takes `repr()` of anything else; the result itself is stored
    with the `ready` event (`result_writer`).
    """

    def __init__(self, fields: dict[str, Any]) -> None:
        self._fields = fields

    def __getitem__(self, key: str) -> Any:
        return self._fields[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __repr__(self) -> str:
        return repr(self._fields)


def result_writer(task: Task, result: dict[str, Any]) -> Callable[[Pipeline], None]:
    """Queue the task's SUCCESS result as Celery's Redis backend writes it: SETEX and PUBLISH.

    The task ignores its result so that Celery does not store it a second time (a GET of the
    old result first, then the write: two more round trips); it goes with the `ready` event.
    """
    key, value, expires = _stored(task, result)
    return lambda pipe: queue_result(pipe, key, value, expires)


def result_before_claim(task: Task, result: dict[str, Any]) -> ResultWrite | None:
    """The task's SUCCESS result as `result_writer` writes it, its delivery left to the claim.

    None unless the backend encodes it as JSON text, where a marker stands for the delivery.
    """
    marker = uuid.uuid4().hex
    key, value, expires = _stored(task, {**result, "delivery": marker})
    if not isinstance(value, str):
        return None
    head, found, tail = value.partition(f'"{marker}"')
    if not found or marker in tail:
        return None
    return ResultWrite(key, head, tail, int(expires or 0))


def _stored(task: Task, result: dict[str, Any]) -> tuple[str, Any, Any]:
    """The key, encoded value and expiry of a SUCCESS result in Celery's own layout."""
    backend = task.backend
    # Celery's own layout of a result (status, date_done, result_extended's fields), so that
    # AsyncResult and Flower read it as if the backend had written it.
    meta = backend._get_result_meta(result, states.SUCCESS, None, task.request)
    meta["task_id"] = task.request.id
    key = backend.get_key_for_task(task.request.id)
    return key.decode() if isinstance(key, bytes) else key, backend.encode(meta), backend.expires


def retry_or_give_up(
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


def known_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """The table and dish of a message that failed its checks, where they are plausible."""
    known: dict[str, Any] = {}
    table, dish = fields.get("table"), fields.get("dish")
    if isinstance(table, int) and not isinstance(table, bool):
        known["table"] = table
    if isinstance(dish, str) and len(dish) <= MAX_DISH_NAME:
        known["dish"] = dish
    return known
