"""How an order is placed (rush, course, held) and sending held orders when they fire."""

import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from restaurant.events import Kind, make_event
from restaurant.ledger import Ledger
from restaurant.names import PREPARE_DISH
from restaurant.routing import station_queue
from restaurant.schedule import HeldOrder, Schedule

if TYPE_CHECKING:
    from celery import Celery


@dataclass(frozen=True)
class Placement:
    """How an order goes to the kitchen: at once or held, rush or not, in which course."""

    rush: bool = False
    course: int | None = None
    #: Fire at this time (seconds since the epoch) instead of now.
    fire_at: float | None = None
    #: Hold the course until `waiter fire`.
    hold: bool = False

    @property
    def held(self) -> bool:
        """Whether the order waits (for a time or for its course) before it is sent."""
        return self.hold or self.fire_at is not None

    @property
    def first_event(self) -> Kind:
        """The order's first event: held, or created (and sent at once)."""
        return Kind.HELD if self.held else Kind.CREATED

    def event_fields(self) -> dict[str, Any]:
        """What the first event says about the placement (nothing for a plain order)."""
        fields = {"rush": self.rush or None, "course": self.course, "fire_at": self.fire_at}
        return {name: value for name, value in fields.items() if value is not None}

    def queue(self, station: str) -> str:
        """The queue the order travels in."""
        return station_queue(station, rush=self.rush)


def event_sender(app: "Celery", sender: str) -> Any:
    """Flower's announcer of the orders this program sends: one steady name per host.

    Without it every run (or pool process) would send task-sent events as a new
    "gen<pid>@host": a new Prometheus series and a phantom worker in Flower each time.
    """
    return app.events.Dispatcher(hostname=f"{sender}@{socket.gethostname()}", enabled=False)


def send_held(
    app: "Celery", ledger: Ledger, orders: list[HeldOrder], sender: str, handled: set[str]
) -> list[str]:
    """Send claimed held orders to the kitchen, except cancelled ones; return the ids sent.

    Each is marked `fired` in the ledger first; one cancelled meanwhile stays cancelled and is
    not sent (and a cook would refuse it anyway, as it refuses any cancelled order). The id of
    each order sent or dropped goes into `handled` as soon as it is, so that after an error the
    caller knows which ones to hold again.
    """
    announcer = event_sender(app, sender)
    sent = []
    with app.producer_or_acquire() as producer:
        for held in orders:
            recorded = ledger.record(make_event(Kind.FIRED, held.order_id))
            if recorded.status == "cancelled":
                handled.add(held.order_id)
                continue
            app.send_task(
                PREPARE_DISH,
                kwargs=held.kwargs,
                task_id=held.order_id,
                queue=held.queue,
                producer=producer,
                event_dispatcher=announcer,
            )
            sent.append(held.order_id)
            handled.add(held.order_id)
    return sent


def restore(schedule: Schedule, orders: list[HeldOrder], handled: set[str]) -> None:
    """Hold again the claimed orders not yet handled, so that they fire next time."""
    schedule.hold([held for held in orders if held.order_id not in handled])
