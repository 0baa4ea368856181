"""Placing orders: into the ledger first, then into their station's queue, each exactly once."""

import time
from collections.abc import Iterator
from typing import Any

import msgspec

from restaurant.claims import Claims
from restaurant.events import make_event
from restaurant.ledger import Ledger
from restaurant.menu import load_menu
from restaurant.names import ORDER_KEY
from restaurant.records import Recorded
from restaurant.schedule import HeldOrder, Schedule
from waiter.client import celery_app, check_reachable, open_ledger, redis_errors
from waiter.conf import BrokerSettings, read_settings
from waiter.exceptions import RedisUnavailable
from waiter.fastpath import send as fast_send
from waiter.fastpath.relay import relayed
from waiter.firing import Placement
from waiter.keys import KeyedOrder, known_orders
from waiter.replicas import confirm_placed, replicated_by
from waiter.sending import BATCH, PlacedOrder, Pushing, mark_unsent, pusher_for, send
from waiter.ticketing import (
    TicketPlan,
    book_on,
    plan_tickets,
    queue_opening,
    take_numbers,
    ticket_fields,
)

__all__ = ["PlacedOrder", "place_orders"]


def place_orders(
    orders: list[KeyedOrder],
    how: Placement | None = None,
    tickets: list[TicketPlan] | None = None,
) -> Iterator[PlacedOrder]:
    """Send one `kitchen.prepare_dish` task per order to its station's queue, yielding each.

    Each order is first entered in the ledger with its `created` event (one pipelined round
    trip), which also proves Redis answers before anything is enqueued: the ledger never
    lags behind the queue. Orders without keys, up to a batch of them, go to their queues
    in that same round trip when the broker is the ledger's Redis database: behind the
    ledger's writes, and only if the ledger then holds every one of them. A held order
    (`how.held`) is kept in Redis instead, out of the broker, until the scheduler or `waiter
    fire` sends it.

    Every order is on a ticket of `tickets` (by default one new ticket per table): the new
    tickets open in the same round trip, ahead of the events, and get their numbers there.

    An order placed under a key that placed it before is not placed again: it is yielded with
    `new=False`. Of several waiters placing it at once, only the one that claims its sending
    lease enters it in the ledger and sends it; a held order is kept by the one whose `created`
    event the ledger takes.
    """
    how = how or Placement()
    tickets = plan_tickets(orders) if tickets is None else tickets
    conf = _settings(held=how.held)
    # The ledger's first write tells as soon as a ping whether its Redis answers.
    check_reachable(conf, ledger_too=False)
    ledger = open_ledger(conf)
    keyed = [item for item in orders if item.key]
    pusher = pusher_for(conf, how)
    encoded: dict[str, fast_send.Encoded] = {}
    # The messages go along with the ledger's writes when one client serves both and they fit
    # one batch; not a keyed command's, whose orders are sent only if this waiter's `created`
    # is the one the ledger took.
    along = (
        pusher is not None
        and pusher.client is ledger.client
        and not keyed
        and 0 < len(orders) <= BATCH
    )
    with redis_errors(conf.result_backend):
        known = known_orders(ledger, keyed)
        verdicts: dict[str, str] = {}
        if keyed and not how.held:
            # The sending lease comes before the ledger: whoever holds it records and sends,
            # so the waiter that says "created" is the one that sent it.
            ids = [item.order_id for item in keyed]
            verdicts = dict(zip(ids, Claims(ledger.client).claim_sending(ids), strict=True))
        entering = [item for item in orders if verdicts.get(item.order_id, "mine") == "mine"]
        sending = (pusher, encoded) if pusher else None
        results, pushed = _enter(ledger, entering, how, sending, tickets, along=along)
        recorded = dict(zip([item.order_id for item in entering], results, strict=True))
    placing: list[PlacedOrder] = []
    for item in orders:
        order_id, order = item.order_id, item.order
        result = recorded.get(order_id)
        if item.key is None or (result is not None and result.applied):
            placing.append(PlacedOrder(order_id, order))
        elif result is not None and not how.held:
            # Entered in the ledger before by a waiter that died before sending it.
            placing.append(PlacedOrder(order_id, order, new=False, resent=True))
        else:
            record = known.get(order_id)
            if record is not None:
                # As it was placed the first time, so that waiting times count from then.
                order = msgspec.structs.replace(order, ordered_at=record.created_at)
            status = record.status if record is not None else None
            yield PlacedOrder(order_id, order, new=False, status=status or "pending")
    if how.held:
        yield from _hold(conf, ledger, placing, how)
    else:
        yield from send(
            conf, ledger, placing, how, keyed=bool(keyed), pusher=sending, pushed=pushed
        )


def _enter(
    ledger: Ledger,
    orders: list[KeyedOrder],
    how: Placement,
    sending: Pushing | None,
    tickets: list[TicketPlan],
    *,
    along: bool,
) -> tuple[list[Recorded], bool]:
    """Record each order's first event in the ledger, a pipeline per batch; return the results.

    The first pipeline opens the new tickets ahead of the events, whose orders join them.
    With a pusher, each batch's task messages are built into `encoded` while its events run
    in Redis (nothing is sent: only once the ledger has every order does sending begin).
    `along` (one batch) pushes them in the same pipeline, behind the events, if the ledger
    then has every order: the second value returned says whether it did.
    """
    pusher, encoded = sending if sending else (None, {})
    carrier = pusher if along else None
    added = 0
    menu = load_menu()
    on_ticket = ticket_fields(tickets)
    book = book_on(ledger.client)
    # A batch even without orders: a keyed command placed again still opens (finds) its tickets.
    batches = [orders[start : start + BATCH] for start in range(0, len(orders), BATCH)] or [[]]
    opened = 0

    def build(by: fast_send.TaskPusher, batch: list[KeyedOrder]) -> list[fast_send.Encoded]:
        for item in batch:
            queue = how.queue(menu[item.order.dish].station)
            kwargs = item.order.as_dict()
            encoded[item.order_id] = by.encode(item.order_id, kwargs, queue)
        return [encoded[item.order_id] for item in batch]

    def pipelines() -> Iterator[Any]:
        nonlocal opened, added
        for number, batch in enumerate(batches):
            pipe = ledger.client.pipeline(transaction=False)
            if number == 0:
                at = orders[0].order.ordered_at if orders else None
                opened = queue_opening(book, pipe, tickets, at or time.time())
            events = (
                make_event(
                    how.first_event,
                    item.order_id,
                    table=item.order.table,
                    dish=item.order.dish,
                    station=menu[item.order.dish].station,
                    note=item.order.note,
                    time=item.order.ordered_at,
                    **how.event_fields(),
                    **on_ticket.get(item.order_id, {}),
                )
                for item in batch
            )
            ledger.queue(events, pipe)
            if carrier is not None:
                keys = [ORDER_KEY.format(order_id=item.order_id) for item in batch]
                added = carrier.queue_recorded(pipe, build(carrier, batch), keys)
            yield pipe
            # Resumed while that pipeline is in flight.
            if pusher is not None and carrier is None:
                build(pusher, batch)

    scripts = [*ledger.scripts, *book.scripts, *(carrier.scripts if carrier else [])]
    results: list[Recorded] = []
    pushed = 0
    for number, sent in enumerate(relayed(pipelines(), len(batches), scripts)):
        # With `along`, the push's replies follow the events'; the last says how many went.
        replies = sent[:-added] if added else sent
        pushed = sent[-1] if added else 0
        events = take_numbers(tickets, replies, opened) if number == 0 else replies
        results.extend(ledger.results(events))
    return results, carrier is not None and pushed == len(orders)


def _settings(*, held: bool) -> BrokerSettings:
    """Celery's settings: read directly when no Celery is needed, else from the Celery app."""
    conf = read_settings()
    if held or fast_send.applies(conf.broker_url):
        return conf
    return celery_app().conf  # type: ignore[no-any-return]


def _hold(
    conf: BrokerSettings, ledger: Ledger, placed: list[PlacedOrder], how: Placement
) -> Iterator[PlacedOrder]:
    """Keep the orders in Redis until they fire; the broker never sees them before."""
    menu = load_menu()
    held = [
        HeldOrder(
            order_id=item.order_id,
            queue=how.queue(menu[item.order.dish].station),
            kwargs=item.order.as_dict(),
            table=item.order.table,
            course=how.course,
            fire_at=how.fire_at,
        )
        for item in placed
    ]
    try:
        with redis_errors(conf.result_backend):
            Schedule(ledger.client).hold(held)
    except RedisUnavailable:
        mark_unsent(ledger, placed)
        raise
    with redis_errors(conf.result_backend):
        confirm_placed(replicated_by(conf, ledger))
    yield from placed
