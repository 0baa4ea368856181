"""What the board reads and does in Redis, through the same code as the `waiter` commands.

Every method here blocks (redis-py, Celery): the handlers run them in a thread.
"""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Final, TypeVar

import redis

from board.redis_access import sync_client
from restaurant.exceptions import ConfigError, MenuError
from restaurant.menu import load_menu
from restaurant.speed import station_speed, tickets_per_quarter
from restaurant.ticket_records import TicketError, TicketUnknown
from restaurant.tickets import TicketBook
from waiter import client as waiter_client
from waiter.conf import BrokerSettings
from waiter.exceptions import (
    AlreadyFinished,
    BadInput,
    OrderNotFound,
    RedisUnavailable,
    WaiterError,
)

T = TypeVar("T")

#: The window of the speed figures shown on every page: the last hour.
SPEED_WINDOW: Final = 3600.0


class ActionFailed(Exception):
    """An action or read the board could not do: the HTTP status and the one line to show."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Limits:
    """A station's ageing thresholds, in minutes."""

    warn: float
    late: float


def station_limits() -> dict[str, Limits]:
    """Every station of the menu, in its order, with its warn_after and late_after minutes."""
    return {
        name: Limits(float(station.warn_after), float(station.late_after))
        for name, station in load_menu().stations.items()
    }


def plain(value: Any) -> Any:
    """The value with any bytes read from Redis turned into text, ready for JSON."""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, dict):
        return {plain(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


class Kitchen:
    """The ledger, the tickets and the speed figures, and the waiter's own actions."""

    def __init__(self, conf: BrokerSettings) -> None:
        self.conf = conf

    @cached_property
    def client(self) -> redis.Redis:
        """The bounded client of the ledger's database."""
        return sync_client(self.conf)

    @cached_property
    def book(self) -> "TicketBook":
        """The ticket book, with the recall window from the environment."""

        return TicketBook.from_settings(self.client)

    @property
    def recall_window(self) -> float:
        """Seconds a served ticket may be recalled."""
        return float(self.book.recall_window)

    # --- Reads --------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Open, ready and recently served tickets and their orders, with the log's last id."""
        with self._errors():
            return self.book.snapshot()

    def snapshot_json(self) -> tuple[str, str]:
        """The snapshot's log id and the snapshot as JSON, as a screen loads it."""
        with self._errors():
            return self.book.snapshot_json()

    def open_tickets(self) -> dict[str, Any]:
        """The open and ready tickets, each with its dishes' records, oldest first."""
        shot = self.snapshot()
        orders = shot.get("orders", {})
        tickets = []
        for ticket in shot.get("tickets", []):
            if ticket.get("status") == "served":
                continue
            dishes = [
                {"order_id": order_id, "ticket": ticket["ticket_id"], "table": ticket["table"]}
                | orders.get(order_id, {})
                for order_id in ticket["dishes"]
            ]
            tickets.append({**ticket, "orders": dishes})
        return {"last_id": shot.get("last_id"), "tickets": tickets}

    def speed(self, since: float, until: float) -> dict[str, dict[str, Any]]:
        """Each station's cook and ticket times between two moments (restaurant/speed.py)."""

        stations = list(station_limits())
        with self._errors():
            figures = station_speed(self.client, stations, since, until)
        return {name: figures_of(speed) for name, speed in figures.items()}

    def last_hour(self) -> dict[str, dict[str, Any]]:
        """Each station's speed over the last hour."""
        now = time.time()
        return self.speed(now - SPEED_WINDOW, now)

    def quarters(self, now: float) -> list[tuple[float, int]]:
        """Tickets sent in each quarter hour of the day, up to `now`."""

        with self._errors():
            counts = tickets_per_quarter(self.client, now)
        return [(float(when), int(count)) for when, count in counts]

    # --- Actions: the same calls as `waiter serve`, `recall`, `fire` and `cancel` -------------
    def serve(self, number: int) -> dict[str, Any]:
        """Serve a ticket at the pass; return its new state."""
        return self._ticket_action(lambda: self.book.serve(number))

    def recall(self, number: int) -> dict[str, Any]:
        """Bring a served ticket back to the pass; return its new state."""
        return self._ticket_action(lambda: self.book.recall(number))

    def fire(self, table: int, course: int) -> dict[str, Any]:
        """Send a table's held course to the kitchen; return the order ids sent."""
        sent = self._waiter_action(lambda: waiter_client.fire_course(table, course))
        return {"table": table, "course": course, "orders": sent}

    def cancel(self, order_id: str) -> dict[str, Any]:
        """Cancel one dish; return what it was."""
        before = self._waiter_action(lambda: waiter_client.cancel_order(order_id))
        return {"order_id": order_id, "dish": before.dish, "table": before.table}

    def _ticket_action(self, act: Callable[[], Any]) -> dict[str, Any]:

        try:
            with self._errors():
                state = act()
        except TicketUnknown as exc:
            raise ActionFailed(404, one_line(exc)) from None
        except TicketError as exc:
            raise ActionFailed(409, one_line(exc)) from None
        return dict(plain(state.to_dict()))

    def _waiter_action(self, act: Callable[[], T]) -> T:
        try:
            return act()
        except OrderNotFound as exc:
            raise ActionFailed(404, one_line(exc)) from None
        except AlreadyFinished as exc:
            raise ActionFailed(409, one_line(exc)) from None
        except BadInput as exc:
            raise ActionFailed(400, one_line(exc)) from None
        except RedisUnavailable as exc:
            raise ActionFailed(503, one_line(exc)) from None
        except (WaiterError, ConfigError, MenuError) as exc:
            raise ActionFailed(500, one_line(exc)) from None

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            with waiter_client.redis_errors(self.conf.result_backend):
                yield
        except RedisUnavailable as exc:
            raise ActionFailed(503, one_line(exc)) from None
        except redis.RedisError as exc:
            raise ActionFailed(503, f"Redis failed: {one_line(exc)}") from None


def figures_of(speed: Any) -> dict[str, Any]:
    """A StationSpeed as plain data: counts, mean, median and 90th percentile, in seconds."""
    figures: dict[str, Any] = {"station": speed.station}
    for part in ("cook", "ticket"):
        times = getattr(speed, part)
        figures[part] = {
            "count": times.count,
            "mean": times.mean,
            "p50": times.p50,
            "p90": times.p90,
        }
    return figures


def one_line(exc: BaseException) -> str:
    """The first line of an error's message."""
    return waiter_client.first_line(exc)
