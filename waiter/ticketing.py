"""Tickets on the waiter's side: one per table of an order, opened with it, and their errors."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import redis

from restaurant.menu import load_menu
from restaurant.speed import StationSpeed, day_start, station_speed, tickets_per_quarter
from restaurant.ticket_records import TicketError, TicketState, TicketUnknown, new_ticket_id
from restaurant.tickets import TicketBook
from waiter.client import bounded_client, redis_errors
from waiter.conf import BrokerSettings, read_settings
from waiter.exceptions import BadInput, TicketNotFound, TicketWrongState, WaiterError
from waiter.keys import KeyedOrder


@dataclass
class TicketPlan:
    """One ticket a `waiter order` opens (or adds dishes to): its table and its orders."""

    ticket_id: str
    table: int
    orders: list[KeyedOrder] = field(default_factory=list)
    #: True when the dishes are added to a ticket sent before (which is open already).
    addon: bool = False
    #: The ticket's number: known for an add-on, given by the ledger when the ticket opens.
    number: int | None = None

    def line(self) -> str:
        """What the waiter prints: `Ticket 42 for table 3: Burger, Fries`."""
        mark = " (add-on)" if self.addon else ""
        dishes = ", ".join(f"{item.order.dish}{mark}" for item in self.orders)
        return f"Ticket {self.number} for table {self.table}: {dishes}"


def plan_tickets(orders: list[KeyedOrder], key: str | None = None) -> list[TicketPlan]:
    """One ticket per table, in the order the tables first come; a keyed order's is derived.

    Under `key` (`--key`), a table's ticket id comes from the key and the table, so that the
    same command again finds the same ticket. Without one, a table whose orders all have their
    own keys (a batch file's) gets its ticket id from those keys; any other gets a new one.
    """
    by_table: dict[int, list[KeyedOrder]] = {}
    for item in orders:
        by_table.setdefault(item.order.table, []).append(item)
    plans = []
    for table, items in by_table.items():
        keys = [item.key for item in items]
        if key is not None:
            ticket_id = new_ticket_id(key, table)
        elif all(keys):
            ticket_id = new_ticket_id("\n".join(k or "" for k in keys), table)
        else:
            ticket_id = new_ticket_id()
        plans.append(TicketPlan(ticket_id, table, items))
    return plans


def addon_plan(state: TicketState, orders: list[KeyedOrder]) -> list[TicketPlan]:
    """The plan of dishes added to the ticket `state` (checked with TicketBook.for_addon)."""
    return [TicketPlan(state.ticket_id, state.table, orders, addon=True, number=state.number)]


def ticket_fields(plans: list[TicketPlan]) -> dict[str, dict[str, Any]]:
    """What each order's first event says of its ticket, by order id."""
    fields: dict[str, dict[str, Any]] = {}
    for plan in plans:
        extra: dict[str, Any] = {"ticket": plan.ticket_id}
        if plan.addon:
            extra["addon"] = True
        for item in plan.orders:
            fields[item.order_id] = extra
    return fields


def queue_opening(book: TicketBook, pipe: Any, plans: list[TicketPlan], at: float) -> int:
    """Queue the opening of the plans' new tickets, each with its dishes; return how many
    replies that adds (the order of the replies does not matter to the ledger: should Redis
    have lost the opening script, it runs after the `created` events, with the same outcome).
    """
    opening = [plan for plan in plans if not plan.addon]
    menu = load_menu()
    for plan in opening:
        dishes = [(item.order_id, menu[item.order.dish].station) for item in plan.orders]
        book.queue_open(pipe, plan.ticket_id, plan.table, at, dishes)
    return len(opening)


def take_numbers(plans: list[TicketPlan], replies: list[Any], count: int) -> list[Any]:
    """Give the new tickets their numbers from the first `count` replies; return the others."""
    numbers = iter(replies[:count])
    for plan in plans:
        if not plan.addon:
            plan.number = int(next(numbers))
    return replies[count:]


def open_book(conf: BrokerSettings | None = None) -> TicketBook:
    """The ticket book in the result backend's database (the ledger's), through a bounded client."""
    conf = conf or read_settings()
    return book_on(bounded_client(conf, conf.result_backend))


@cache
def book_on(client: redis.Redis) -> TicketBook:
    """The ticket book on `client`: one per client in a process, its settings read once."""
    return TicketBook.from_settings(client)


def waiter_error(exc: TicketError) -> WaiterError:
    """The waiter's error, with its exit code, for a ticket that cannot do what was asked."""
    if isinstance(exc, TicketUnknown):
        return TicketNotFound(str(exc))
    return TicketWrongState(str(exc))


@contextmanager
def ticket_errors(url: str) -> Iterator[None]:
    """Turn the tickets' refusals into the waiter's errors, and a broken Redis at `url` too."""
    try:
        with redis_errors(url):
            yield
    except TicketError as exc:
        raise waiter_error(exc) from None


def ticket_for_addon(number: int, table: int | None) -> TicketState:
    """The open or ready ticket dishes are about to be added to; a served one refuses them."""
    conf = read_settings()
    with ticket_errors(conf.result_backend):
        state = open_book(conf).for_addon(number)
    if table is not None and table != state.table:
        raise BadInput(f"ticket {number} is table {state.table}'s, not table {table}'s")
    return state


def serve_ticket(number: int) -> TicketState:
    """Serve a ready ticket at the pass; of two racing, the second is told when it was served."""
    conf = read_settings()
    with ticket_errors(conf.result_backend):
        return open_book(conf).serve(number)


def recall_ticket(number: int) -> TicketState:
    """Bring a served ticket back to the pass, within the recall window."""
    conf = read_settings()
    with ticket_errors(conf.result_backend):
        return open_book(conf).recall(number)


def ticket_snapshot() -> dict[str, Any]:
    """Tickets open, ready, or served within the recall window, with their orders."""
    conf = read_settings()
    with ticket_errors(conf.result_backend):
        return open_book(conf).snapshot()


def speed_figures(
    stations: list[str], now: float
) -> tuple[list[tuple[float, int]], dict[str, StationSpeed]]:
    """Tickets per quarter hour of the day, and each station's speed since midnight."""
    conf = read_settings()
    with ticket_errors(conf.result_backend):
        client: redis.Redis = bounded_client(conf, conf.result_backend)
        quarters = tickets_per_quarter(client, now)
        return quarters, station_speed(client, stations, day_start(now), now)
