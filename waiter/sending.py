"""Sending placed orders to the kitchen's queues, once the ledger has them."""

from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from functools import cache
from typing import Final

import redis

from restaurant.claims import Claims
from restaurant.events import Kind, make_event
from restaurant.ledger import Ledger
from restaurant.menu import load_menu
from restaurant.names import PREPARE_DISH
from restaurant.orders import Order
from waiter.client import bounded_client, celery_app, redis_errors
from waiter.conf import BrokerSettings
from waiter.exceptions import RedisUnavailable
from waiter.fastpath import send as fast_send
from waiter.fastpath.relay import relayed
from waiter.firing import Placement, event_sender
from waiter.replicas import confirm_placed, replicated_by

#: Orders per pipeline, to the ledger and to the queue: a few megabytes, a round trip each.
BATCH: Final = 2000

#: What sends the messages straight to a Redis broker, and the messages it has built.
Pushing = tuple[fast_send.TaskPusher, dict[str, fast_send.Encoded]]


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


def pusher_for(conf: BrokerSettings, how: Placement) -> fast_send.TaskPusher | None:
    """What pushes the messages straight to a Redis broker, or None to use send_task."""
    if how.held or not fast_send.applies(conf.broker_url):
        return None
    return _shared_pusher(bounded_client(conf, conf.broker_url))


@cache
def _shared_pusher(client: redis.Redis) -> fast_send.TaskPusher:
    """One pusher per broker client in a process, as Celery keeps one producer."""
    return fast_send.TaskPusher(client, PREPARE_DISH, "waiter")


def send(
    conf: BrokerSettings,
    ledger: Ledger,
    placing: list[PlacedOrder],
    how: Placement,
    *,
    keyed: bool,
    pusher: Pushing | None,
    pushed: bool = False,
) -> Iterator[PlacedOrder]:
    """Publish the orders' messages; record the ones that never left as failed.

    `pushed`: the messages went with the ledger's writes already (waiter.placing), and are
    only confirmed here.
    """
    sent: list[PlacedOrder] = []
    replicated = replicated_by(conf, ledger)
    try:
        with redis_errors(conf.broker_url):
            if pushed:
                batches: Iterator[list[PlacedOrder]] = iter([placing])
            elif pusher:
                batches = _push(placing, *pusher)
            else:
                batches = _send_tasks(placing, how)
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
        if len(sent) < len(placing) and not pushed:
            mark_unsent(ledger, placing[len(sent) :])


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
                kwargs=item.order.as_dict(),
                task_id=item.order_id,
                queue=how.queue(menu[item.order.dish].station),
                producer=producer,
                event_dispatcher=announcer,
            )
            yield [item]


def mark_unsent(ledger: Ledger, unsent: list[PlacedOrder]) -> None:
    """Record the orders that never reached the queue as failed (best effort)."""
    with suppress(redis.exceptions.RedisError):
        ledger.record_many(
            make_event(Kind.FAILED, item.order_id, reason="never reached the kitchen")
            for item in unsent
        )
