"""Tickets in the ledger on a real Redis: ready when every dish is, served once, recalled in time."""

import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis

from restaurant.events import Kind, make_event
from restaurant.ledger import Ledger
from restaurant.names import EVENT_LOG_KEY, TICKET_KEY, TICKET_SCREENS_KEY
from restaurant.speed import station_speed, summarize, tickets_per_quarter
from restaurant.ticket_records import (
    RecallTooLate,
    TicketAlreadyServed,
    TicketClosed,
    TicketNotReady,
    TicketNotServed,
    TicketUnknown,
    new_ticket_id,
)
from restaurant.tickets import TicketBook
from tools.redis_server import RedisServer


@pytest.fixture
def client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """Database 8, emptied before each test."""
    with redis.Redis.from_url(f"redis://127.0.0.1:{redis_server.port}/8") as connection:
        connection.flushdb()
        yield connection


def place(
    ledger: Ledger, book: TicketBook, table: int, dishes: list[tuple[str, str]]
) -> tuple[int, str, list[str]]:
    """Open a ticket and create its dishes as the waiter does; return (number, id, order ids)."""
    ticket_id = new_ticket_id()
    orders = [str(uuid.uuid4()) for _ in dishes]
    with_stations = [(order, station) for order, (_, station) in zip(orders, dishes, strict=True)]
    number = book.open(table, ticket_id=ticket_id, dishes=with_stations)
    ledger.record_many(
        make_event(Kind.CREATED, order, table=table, dish=dish, station=station, ticket=ticket_id)
        for order, (dish, station) in zip(orders, dishes, strict=True)
    )
    return number, ticket_id, orders


def cook(ledger: Ledger, order_id: str, kind: Kind = Kind.READY, **fields: object) -> None:
    """Take a dish through to `kind` as a cook would."""
    ledger.record(make_event(Kind.PREPARING, order_id, attempt=1, worker="chef"))
    ledger.record(make_event(kind, order_id, attempt=1, worker="chef", **fields))


def log(client: redis.Redis) -> list[tuple[str, dict[str, Any]]]:
    """The event log: (kind, event) for each entry, oldest first."""
    entries: Any = client.xrange(EVENT_LOG_KEY)
    return [(fields[b"k"].decode(), json.loads(fields[b"e"])) for _, fields in entries]


def test_ticket_turns_ready_only_when_every_dish_is_finished(client: redis.Redis) -> None:
    ledger, book = Ledger(client, 600, 100), TicketBook(client)
    dishes = [("Burger", "grill"), ("Salad", "cold"), ("Soup", "stove")]
    number, ticket_id, orders = place(ledger, book, 4, dishes)
    assert number == 1
    assert book.find(number).status == "open"  # type: ignore[union-attr]
    cook(ledger, orders[0], cook_seconds=2.0)
    ledger.record(make_event(Kind.CANCELLED, orders[2], reason="out of soup"))
    assert book.find(number).status == "open"  # type: ignore[union-attr]
    cook(ledger, orders[1], cook_seconds=1.0)
    ticket = book.find(number)
    assert ticket is not None and ticket.status == "ready" and ticket.ready_at
    assert ticket.dishes == tuple(orders)
    tickets = [event for kind, event in log(client) if kind == "ticket"]
    assert [event["event"] for event in tickets] == ["opened", "ready"]
    order_events = [event for kind, event in log(client) if kind == "order"]
    assert all(event["ticket"] == ticket_id for event in order_events)
    assert len(order_events) == 3 + 2 + 1 + 2


def test_serve_once_under_a_race_then_recall_within_the_window(client: redis.Redis) -> None:
    ledger, book = Ledger(client, 600, 100), TicketBook(client, recall_window=60)
    number, _, orders = place(ledger, book, 2, [("Pasta", "pasta")])
    with pytest.raises(TicketNotReady):
        book.serve(number)
    cook(ledger, orders[0])
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda _: _try(book.serve, number), range(8)))
    assert outcomes.count("served") == 1
    assert all(
        outcome.startswith(f"ticket {number} was already served at ")
        for outcome in outcomes
        if outcome != "served"
    )
    assert book.open_tickets() == []
    assert [t.number for t in book.recently_served()] == [number]
    recalled = book.recall(number)
    assert recalled.status == "ready" and recalled.served_at is None
    assert [t.number for t in book.open_tickets()] == [number]
    with pytest.raises(TicketNotServed):
        book.recall(number)
    served = book.serve(number, now=time.time())
    with pytest.raises(RecallTooLate, match=f"ticket {number} was served at .*; recall closed at "):
        book.recall(number, now=(served.served_at or 0) + 61)


def _try(action, number: int) -> str:  # type: ignore[no-untyped-def]
    try:
        action(number)
    except TicketAlreadyServed as exc:
        return str(exc)
    return "served"


def test_addons_reopen_a_ready_ticket_and_a_served_one_refuses_them(client: redis.Redis) -> None:
    ledger, book = Ledger(client, 600, 100), TicketBook(client)
    number, ticket_id, orders = place(ledger, book, 5, [("Burger", "grill")])
    cook(ledger, orders[0])
    assert book.for_addon(number).status == "ready"
    addon = str(uuid.uuid4())
    ledger.record(
        make_event(
            Kind.CREATED,
            addon,
            table=5,
            dish="Fries",
            station="fryer",
            ticket=ticket_id,
            addon=True,
        )
    )
    ticket = book.find(number)
    assert ticket is not None and ticket.status == "open" and ticket.dishes[-1] == addon
    [shown] = book.snapshot()["tickets"]
    assert shown["status"] == "open" and shown["dishes"] == [*orders, addon]
    cook(ledger, addon)
    book.serve(number)
    with pytest.raises(TicketClosed, match=f"ticket {number} was already served at "):
        book.for_addon(number)
    with pytest.raises(TicketUnknown):
        book.serve(999)
    events = [event["event"] for kind, event in log(client) if kind == "ticket"]
    assert events == ["opened", "ready", "reopened", "ready", "served"]


def test_numbers_count_up_and_a_keyed_ticket_opens_once(client: redis.Redis) -> None:
    book = TicketBook(client)
    assert [book.open(table) for table in (1, 2, 3)] == [1, 2, 3]
    keyed = new_ticket_id("dinner-7", 9)
    assert keyed == new_ticket_id("dinner-7", 9) != new_ticket_id("dinner-7", 8)
    assert book.open(9, ticket_id=keyed) == book.open(9, ticket_id=keyed) == 4


def test_snapshot_holds_exactly_what_came_before_its_log_id(client: redis.Redis) -> None:
    ledger, book = Ledger(client, 600, 100), TicketBook(client)
    _, first_id, first = place(ledger, book, 1, [("Burger", "grill"), ("Salad", "cold")])
    cook(ledger, first[0])
    snap = book.snapshot()
    newest: Any = client.xrevrange(EVENT_LOG_KEY, count=1)
    assert snap["last_id"] == newest[0][0].decode()
    assert [t["ticket_id"] for t in snap["tickets"]] == [first_id]
    assert snap["orders"][first[0]]["status"] == "ready"
    assert snap["orders"][first[1]] == {
        "status": "pending", "dish": "Salad", "station": "cold",
        "created_at": snap["orders"][first[1]]["created_at"],
    }  # fmt: skip
    assert book.snapshot(now=time.time())["tickets"][0]["dishes"] == first


def test_snapshot_reads_the_ticket_entries_and_falls_back_to_each_order(
    client: redis.Redis,
) -> None:
    ledger, book = Ledger(client, 600, 100), TicketBook(client)
    _, ticket_id, orders = place(
        ledger, book, 4, [("Burger", "grill"), ("Soup", "stove"), ("Salad", "cold")]
    )
    ledger.record(make_event(Kind.PREPARING, orders[0], attempt=1, worker="chef", percent=0))
    ledger.record(make_event(Kind.PROGRESS, orders[0], attempt=1, worker="chef", percent=50))
    cook(ledger, orders[1], Kind.FAILED, reason="burnt <b>")
    entries: Any = client.hgetall(TICKET_SCREENS_KEY.format(ticket_id=ticket_id))
    assert {key.decode() for key in entries} == set(orders)
    with_entries = book.snapshot()["orders"]
    assert with_entries[orders[0]]["status"] == "preparing"
    assert with_entries[orders[0]]["percent"] == 50
    assert with_entries[orders[1]]["status"] == "failed"
    assert with_entries[orders[1]]["reason"] == "burnt <b>"
    # A ticket and orders recorded before the ledger kept their JSON are read field by field
    # and from each order's own hash: the same snapshot.
    kept = book.snapshot()
    assert kept["tickets"][0] == book.get(ticket_id).to_dict()  # type: ignore[union-attr]
    client.hdel(TICKET_KEY.format(ticket_id=ticket_id), "screen", "dish_count")
    client.delete(TICKET_SCREENS_KEY.format(ticket_id=ticket_id))
    assert book.snapshot() == kept


def test_an_order_whose_ticket_is_gone_leaves_no_entries_behind(client: redis.Redis) -> None:
    ledger = Ledger(client, 600, 100)
    order_id, ticket_id = str(uuid.uuid4()), new_ticket_id()
    ledger.record(make_event(Kind.CREATED, order_id, table=2, dish="Soup", ticket=ticket_id))
    ledger.record(make_event(Kind.PREPARING, order_id, attempt=1, worker="chef", percent=0))
    assert client.exists(TICKET_SCREENS_KEY.format(ticket_id=ticket_id)) == 0


def test_snapshot_of_an_empty_ledger(client: redis.Redis) -> None:
    assert TicketBook(client).snapshot() == {"last_id": "0-0", "tickets": [], "orders": {}}


def test_speed_figures_per_station_and_quarter_hour(client: redis.Redis) -> None:
    ledger, book = Ledger(client, 600, 100), TicketBook(client)
    before = time.time() - 1
    number, _, orders = place(
        ledger, book, 3, [("Burger", "grill"), ("Steak", "grill"), ("Salad", "cold")]
    )
    cook(ledger, orders[0], cook_seconds=4.0)
    cook(ledger, orders[2], cook_seconds=1.0)
    speed = station_speed(client, ["grill", "cold", "pastry"], before, time.time() + 1)
    assert speed["grill"].cook.count == 1 and speed["grill"].cook.mean == 4.0
    assert speed["grill"].ticket.count == 0  # the Steak still cooks
    assert speed["cold"].ticket.count == 1
    cook(ledger, orders[1], cook_seconds=6.0)
    speed = station_speed(client, ["grill"], before, time.time() + 1)
    assert speed["grill"].cook.count == 2 and speed["grill"].ticket.count == 1
    quarters = tickets_per_quarter(client, time.time())
    assert sum(count for _, count in quarters) == 1 == number
    assert summarize([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).p90 == 9
