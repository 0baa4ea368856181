"""Task requests whose time limits come from the kitchen's menu, not from the message."""

import logging
from typing import Any

import redis
from celery.worker.request import Request
from kombu.exceptions import OperationalError

from kitchen.current import get_kitchen
from kitchen.events import get_news
from kitchen.stations import release_station
from restaurant.events import Kind

logger = logging.getLogger(__name__)


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

    def on_timeout(self, soft: bool, timeout: float) -> None:
        """Record a dish killed at its hard limit: its pool process can no longer say so."""
        super().on_timeout(soft, timeout)
        if not soft:
            release_station(
                self.id, self.kwargs.get("dish") if isinstance(self.kwargs, dict) else None
            )
            retries = self.request_dict.get("retries") or 0
            if not self._reached_the_stove(retries + 1):
                self._hand_back(retries)
                return
            get_news().tell(
                Kind.FAILED,
                self.id,
                reason="took too long: killed at its hard time limit",
                attempt=retries + 1,
                worker=self.hostname,
            )

    def _reached_the_stove(self, attempt: int) -> bool:
        """Whether this attempt was taken by a cook, as far as the ledger says.

        A dish can hit its hard limit before cooking: its cook waited for a Redis that was
        restarting. That is no dish taking too long, and the order must not fail for it.
        """
        try:
            record = get_news().ledger.order(self.id, with_history=False)
        except (redis.RedisError, OSError):
            return True  # the ledger cannot say: record the failure as before
        if record is None:
            return True
        return record.attempt >= attempt and record.status not in ("pending", "retrying")

    def _hand_back(self, retries: int) -> None:
        """Send the order's message again, the same attempt: the kitchen's claim dedupes it."""
        logger.warning(
            "Order %s hit its hard time limit before a cook took it; sending it back", self.id
        )
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
        except (OperationalError, redis.RedisError, OSError) as exc:
            logger.error("Could not send order %s back: %s", self.id, exc)
