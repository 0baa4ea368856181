"""Task requests whose time limits come from the kitchen's menu, not from the message."""

import logging
from functools import partial
from typing import Any

import redis
from celery.exceptions import TimeLimitExceeded
from celery.worker.request import Request
from kombu.exceptions import OperationalError

from kitchen.current import get_kitchen
from kitchen.events import LedgerUnreachable, get_news
from kitchen.late_news import late_news
from kitchen.stations import release_station
from restaurant.events import Kind
from restaurant.records import OrderRecord

logger = logging.getLogger(__name__)

#: Errors that mean Redis (or the broker) is away, not that it refused.
_AWAY = (redis.ConnectionError, redis.TimeoutError, OperationalError, OSError)


class DishRequest(Request):  # type: ignore[misc]
    """A `prepare_dish` request timed by its dish's soft and hard limits on the menu.

    The worker's main process sets the limits before handing the task to the pool, so the
    kitchen decides them: a message from anywhere cannot choose its own.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        kitchen = get_kitchen()
        dish_name = self.kwargs.get("dish") if isinstance(self.kwargs, dict) else None
        dish = kitchen.menu.find(dish_name) if isinstance(dish_name, str) else None
        self.time_limits: tuple[float | None, float | None]
        if dish is None:
            # Not a dish we know: the task's own (longest) limits apply, and it fails at once.
            self.time_limits = (None, None)
        else:
            limits = kitchen.limits(dish)
            self.time_limits = (limits.hard, limits.soft)
        self._killed = False

    @property
    def store_errors(self) -> bool:
        """Whether Celery stores the failure itself: not a hard-limit kill's (see on_timeout)."""
        return not self._killed and bool(super().store_errors)

    def on_failure(
        self, exc_info: Any, send_failed_event: bool = True, return_ok: bool = False
    ) -> Any:
        """Handle a failure as Celery does; prefork reports a hard-limit kill here first."""
        if isinstance(exc_info.type, type) and issubclass(exc_info.type, TimeLimitExceeded):
            self._killed = True
        return super().on_failure(exc_info, send_failed_event, return_ok)

    def on_timeout(self, soft: bool, timeout: float) -> None:
        """Record a dish killed at its hard limit: its pool process can no longer say so.

        This runs in the worker's event loop, and the kill has acknowledged the message: the
        failure (and Celery's result) is recorded from a thread, again and again while Redis is
        away, so that the loop never waits for Redis and the failure is never lost.
        """
        if soft:
            super().on_timeout(soft, timeout)
            return
        self._killed = True
        super().on_timeout(soft, timeout)
        late_news().add(
            f"order {self.id} as killed at its hard time limit",
            partial(self._record_kill, timeout),
        )

    def _record_kill(self, timeout: float) -> bool:
        """Fail the order, or send it back if no cook took it; False while Redis is away."""
        news = get_news()
        attempt = (self.request_dict.get("retries") or 0) + 1
        try:
            record = news.ledger.order(self.id, with_history=False)
        except _AWAY:
            return False
        except redis.RedisError:
            record = None  # the ledger cannot say: record the failure
        release_station(self.id, self.kwargs.get("dish") if isinstance(self.kwargs, dict) else None)
        if record is not None and not _reached_the_stove(record, attempt):
            return self._hand_back(attempt - 1)
        try:
            told = news.tell_surely(
                Kind.FAILED,
                self.id,
                reason="took too long: killed at its hard time limit",
                attempt=attempt,
                worker=self.hostname,
            )
        except LedgerUnreachable:
            return False
        if told is not None and told.status == "failed":
            try:
                self.task.backend.mark_as_failure(
                    self.id, TimeLimitExceeded(timeout), request=self._context, call_errbacks=False
                )
            except (redis.RedisError, OSError) as exc:
                logger.warning("Could not store the result of order %s: %s", self.id, exc)
        return True

    def _hand_back(self, retries: int) -> bool:
        """Send the order's message again, the same attempt; False while the broker is away.

        A copy sent twice (an error after the send) is harmless: the kitchen's claim dedupes it.
        """
        try:
            self.app.send_task(
                self.task_name,
                args=self.args,
                kwargs=self.kwargs,
                task_id=self.id,
                retries=retries,
                queue=self.delivery_info.get("routing_key"),
                event_dispatcher=self.app.events.Dispatcher(hostname=self.hostname, enabled=False),
            )
        except _AWAY:
            return False
        logger.warning(
            "Order %s hit its hard time limit before a cook took it; sent it back", self.id
        )
        return True


def _reached_the_stove(record: OrderRecord, attempt: int) -> bool:
    """Whether this attempt was taken by a cook, as far as the ledger says.

    A dish can hit its hard limit before cooking: its cook waited for a Redis that was
    restarting. That is no dish taking too long, and the order must not fail for it.
    """
    return record.attempt >= attempt and record.status not in ("pending", "retrying")
