"""Task requests whose time limits come from the kitchen's menu, not from the message."""

from typing import Any

from celery.worker.request import Request

from kitchen.current import get_kitchen
from kitchen.events import get_news
from kitchen.stations import release_station
from restaurant.events import Kind


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
            get_news().tell(
                Kind.FAILED,
                self.id,
                reason="took too long: killed at its hard time limit",
                attempt=retries + 1,
                worker=self.hostname,
            )
