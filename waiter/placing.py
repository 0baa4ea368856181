"""Placing orders: into the ledger first, then into their station's queue, each exactly once."""

import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

import redis

from restaurant.claims import Claims
from restaurant.events import Kind, make_event
from restaurant.ledger import Ledger
from restaurant.menu import load_menu
from restaurant.names import PREPARE_DISH
from restaurant.orders import Order
from restaurant.records import Recorded
from restaurant.schedule import HeldOrder, Schedule
from waiter.client import bounded_client, celery_app, check_reachable, open_ledger, redis_errors
from waiter.conf import BrokerSettings, read_settings
from waiter.exceptions import RedisUnavailable
from waiter.fastpath import send as fast_send
from waiter.fastpath.relay import relayed
from waiter.firing import Placement, event_sender
from waiter.keys import KeyedOrder, known_orders
from waiter.replicas import confirm_placed, replicated_by
from waiter.ticketing import (
    TicketPlan,
    book_on,
    plan_tickets,
    queue_opening,
    take_numbers,
    ticket_fields,
)

#: Orders per pipeline, to the ledger and to the queue: a few megabytes, a round trip each.
BATCH: Final = 2000


@dataclass(frozen=True)
class PlacedOrder:
    """An order on its way to the kitchen, or found there already (placed under its key)."""

    order_id: str
    order: Order
    #: False when the order's key had already placed it: nothing new was sent.
    new: bool = True
    #: Its status in the ledger when it was found there already.
    status: str = "pending"
    #: True when it had been placed but never sent, and this waiter sent it.
    resent: bool = False


def place_orders(
    orders: list[KeyedOrder],
    how: Placement | None = None,
    tickets: list[TicketPlan] | None = None,
) -> Iterator[PlacedOrder]:
    """Send one `kitchen.prepare_dish` task per order to its station's queue, yielding each.

    Each order is first entered in the ledger with its `created` event (one pipelined round
    trip), which also proves Redis answers before anything is enqueued: the ledger never
    lags behind the queue. A held order (`how.held`) is kept in Redis instead, out of the
    broker, until the scheduler or `waiter fire` sends it.

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
    pusher = _pusher(conf, how)
    encoded: dict[str, fast_send.Encoded] = {}
    with redis_errors(conf.result_backend):
        known = known_orders(ledger, keyed)
        verdicts: dict[str, str] = {}
        if keyed and not how.held:
            # The sending lease comes before the ledger: whoever holds it records and sends,
            # so the waiter that says "created" is the one that sent it.
            ids = [item.order_id for item in keyed]
            verdicts = dict(zip(ids, Claims(ledger.client).claim_sending(ids), strict=True))
        entering = [item for item in orders if verdicts.get(item.order_id, "mine") == "mine"]
        results = _enter(ledger, entering, how, (pusher, encoded), tickets)
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
                order = order.model_copy(update={"ordered_at": record.created_at})
            status = record.status if record is not None else None
            yield PlacedOrder(order_id, order, new=False, status=status or "pending")
    if how.held:
        yield from _hold(conf, ledger, placing, how)
    else:
        sender = (pusher, encoded) if pusher else None
        yield from _send(conf, ledger, placing, how, keyed=bool(keyed), pusher=sender)


def _enter(
    ledger: Ledger,
    orders: list[KeyedOrder],
    how: Placement,
    sending: tuple[fast_send.TaskPusher | None, dict[str, fast_send.Encoded]],
    tickets: list[TicketPlan],
) -> list[Recorded]:
    """Record each order's first event in the ledger, a pipeline per batch; return the results.

    The first pipeline opens the new tickets ahead of the events, whose orders join them.
    With a pusher, each batch's task messages are built into `encoded` while its events run
    in Redis (nothing is sent: only once the ledger has every order does sending begin).
    """
    pusher, encoded = sending
    menu = load_menu()
    on_ticket = ticket_fields(tickets)
    book = book_on(ledger.client)
    # A batch even without orders: a keyed command placed again still opens (finds) its tickets.
    batches = [orders[start : start + BATCH] for start in range(0, len(orders), BATCH)] or [[]]
    opened = 0

    def pipelines() -> Iterator[Any]:
        nonlocal opened
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
            yield ledger.queue(events, pipe)
            # Resumed while that pipeline is in flight.
            if pusher is not None:
                for item in batch:
                    queue = how.queue(menu[item.order.dish].station)
                    kwargs = item.order.model_dump()
                    encoded[item.order_id] = pusher.encode(item.order_id, kwargs, queue)

    scripts = [*ledger.scripts, *book.scripts]
    results: list[Recorded] = []
    for number, replies in enumerate(relayed(pipelines(), len(batches), scripts)):
        events = take_numbers(tickets, replies, opened) if number == 0 else replies
        results.extend(ledger.results(events))
    return results


def _pusher(conf: BrokerSettings, how: Placement) -> fast_send.TaskPusher | None:
    """What pushes the messages straight to a Redis broker, or None to use send_task."""
    if how.held or not fast_send.applies(conf.broker_url):
        return None
    return _shared_pusher(bounded_client(conf, conf.broker_url))


@cache
def _shared_pusher(client: redis.Redis) -> fast_send.TaskPusher:
    """One pusher per broker client in a process, as Celery keeps one producer."""
    return fast_send.TaskPusher(client, PREPARE_DISH, "waiter")


def _settings(*, held: bool) -> BrokerSettings:
    """Celery's settings: read directly when no Celery is needed, else from the Celery app."""
    conf = read_settings()
    if held or fast_send.applies(conf.broker_url):
        return conf
    return celery_app().conf  # type: ignore[no-any-return]


def _send(
    conf: BrokerSettings,
    ledger: Ledger,
    placing: list[PlacedOrder],
    how: Placement,
    *,
    keyed: bool,
    pusher: tuple[fast_send.TaskPusher, dict[str, fast_send.Encoded]] | None,
) -> Iterator[PlacedOrder]:
    """Publish the orders' messages; record the ones that never left as failed."""
    sent: list[PlacedOrder] = []
    replicated = replicated_by(conf, ledger)
    try:
        with redis_errors(conf.broker_url):
            batches = _push(placing, *pusher) if pusher else _send_tasks(placing, how)
            for batch in batches:
                sent.extend(batch)
                confirm_placed(replicated)
                yield from batch
    except RedisUnavailable as exc:
        if sent:
            orders = "order" if len(placing) == 1 else "orders"
            verb = "was" if len(sent) == 1 else "were"
            raise RedisUnavailable(
                f"{exc} ({len(sent)} of {len(placing)} {orders} {verb} sent)"
            ) from None
        raise
    finally:
        if keyed:
            with suppress(redis.exceptions.RedisError):
                Claims(ledger.client).mark_sent([item.order_id for item in sent])
        if len(sent) < len(placing):
            _mark_unsent(ledger, placing[len(sent) :])


def _push(
    placing: list[PlacedOrder], pusher: fast_send.TaskPusher, encoded: dict[str, fast_send.Encoded]
) -> Iterator[list[PlacedOrder]]:
    """Push the built messages straight to the Redis broker, a transaction per batch.

    Each batch is yielded once Redis has taken it; the next is built meanwhile.
    """
    batches = [placing[start : start + BATCH] for start in range(0, len(placing), BATCH)]
    transactions = (
        pusher.pipeline([encoded[item.order_id] for item in batch]) for batch in batches
    )
    replies = relayed(transactions, len(batches), pusher.scripts)
    for batch, _ in zip(batches, replies, strict=True):
        yield batch


def _send_tasks(placing: list[PlacedOrder], how: Placement) -> Iterator[list[PlacedOrder]]:
    """Send each order through Celery's send_task (any broker but plain Redis)."""
    menu = load_menu()
    app = celery_app()
    announcer = event_sender(app, "waiter")
    with app.producer_or_acquire() as producer:
        for item in placing:
            app.send_task(
                PREPARE_DISH,
                kwargs=item.order.model_dump(),
                task_id=item.order_id,
                queue=how.queue(menu[item.order.dish].station),
                producer=producer,
                event_dispatcher=announcer,
            )
            yield [item]


def _hold(
    conf: BrokerSettings, ledger: Ledger, placed: list[PlacedOrder], how: Placement
) -> Iterator[PlacedOrder]:
    """Keep the orders in Redis until they fire; the broker never sees them before."""
    menu = load_menu()
    held = [
        HeldOrder(
            order_id=item.order_id,
            queue=how.queue(menu[item.order.dish].station),
            kwargs=item.order.model_dump(),
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
        _mark_unsent(ledger, placed)
        raise
    with redis_errors(conf.result_backend):
        confirm_placed(replicated_by(conf, ledger))
    yield from placed


def _mark_unsent(ledger: Ledger, unsent: list[PlacedOrder]) -> None:
    """Record the orders that never reached the queue as failed (best effort)."""
    with suppress(redis.exceptions.RedisError):
        ledger.record_many(
            make_event(Kind.FAILED, item.order_id, reason="never reached the kitchen")
            for item in unsent
        )
