"""Orders that failed for good: list them, send one back to the kitchen, or empty the list."""

from dataclasses import dataclass

import msgspec
from celery import Celery

from restaurant.claims import Claims
from restaurant.dead_letters import DeadLetter, DeadLetters
from restaurant.events import FINAL_STATUSES, Kind, make_event
from restaurant.exceptions import InvalidOrder
from restaurant.menu import load_menu
from restaurant.names import PREPARE_DISH
from restaurant.orders import Order, Rules, make_order
from restaurant.routing import station_queue
from restaurant.settings import load_settings
from waiter.client import celery_app, check_order_id, check_reachable, open_ledger, redis_errors
from waiter.exceptions import AlreadyFinished, BadInput, OrderNotFound
from waiter.firing import event_sender


@dataclass(frozen=True)
class Retried:
    """What `retry_order` did."""

    order_id: str
    #: The attempt the order is back in the kitchen as.
    attempt: int
    #: False when it was back in the kitchen already (retried before): nothing new was sent.
    new: bool
    status: str


def failed_orders(limit: int) -> tuple[int, list[DeadLetter]]:
    """Return how many dead letters there are, and the newest `limit` of them (oldest first)."""
    app = celery_app()
    with redis_errors(app.conf.result_backend):
        letters = DeadLetters(open_ledger(app.conf).client)
        return letters.count(), letters.newest(limit)


def purge_failed(order_ids: list[str]) -> int:
    """Delete these dead letters (the ones the user was shown); return how many went."""
    app = celery_app()
    with redis_errors(app.conf.result_backend):
        return DeadLetters(open_ledger(app.conf).client).remove(order_ids)


def retry_order(order_id: str) -> Retried:
    """Send a failed order back to the kitchen as its next attempt; safe to repeat.

    The ledger moves the order from failed to pending only once, however many waiters ask at
    the same time; the sending lease then lets exactly one of them send it. Asking again later
    reports where the order stands, and sends it only if the waiter that moved it back died
    before sending it.
    """
    check_order_id(order_id)
    app = celery_app()
    check_reachable(app.conf)
    ledger = open_ledger(app.conf)
    with redis_errors(app.conf.result_backend):
        letter = DeadLetters(ledger.client).get(order_id)
        record = ledger.order(order_id, with_history=False)
        if letter is None:
            if record is None:
                raise OrderNotFound(f"no failed order {order_id} (see 'waiter failed')")
            if record.status in FINAL_STATUSES:
                raise AlreadyFinished(f"order {order_id} is {record.status}; nothing to retry")
            attempt, new = record.attempt, False
        else:
            order = _order_of(letter)
            attempt = max(letter.attempt, record.attempt if record else 0) + 1
            recorded = ledger.record(
                make_event(
                    Kind.REQUEUED,
                    order_id,
                    table=order.table,
                    dish=order.dish,
                    station=letter.station,
                    note=order.note,
                    attempt=attempt,
                    reason="sent back by the waiter",
                )
            )
            new = recorded.applied
            if not new:
                record = ledger.order(order_id, with_history=False)
                attempt = record.attempt if record else attempt
        claims = Claims(ledger.client)
        [verdict] = claims.claim_sending([order_id])
        status = ledger.status(order_id) or "pending"
    if verdict == "mine":
        letter = letter or _letter_from(record)
        _send(app, letter, attempt)
        with redis_errors(app.conf.result_backend):
            claims.mark_sent([order_id])
    return Retried(order_id, attempt, new, status)


def _order_of(letter: DeadLetter) -> Order:
    """The order a dead letter was, checked again: an invalid message cannot be retried."""
    rules = Rules(load_menu(), load_settings().tables)
    fields = {
        "table": letter.table,
        "dish": letter.dish,
        "note": letter.note,
        "ordered_at": letter.created_at,
    }
    try:
        return make_order(fields, rules)
    except InvalidOrder as exc:
        raise BadInput(f"order {letter.order_id} cannot be retried: {exc}") from None


def _letter_from(record: object) -> DeadLetter:
    return msgspec.convert(record, DeadLetter, from_attributes=True)


def _send(app: Celery, letter: DeadLetter, attempt: int) -> None:
    order = _order_of(letter)
    station = letter.station or load_menu()[order.dish].station
    announcer = event_sender(app, "waiter")
    with redis_errors(app.conf.broker_url), app.producer_or_acquire() as producer:
        app.send_task(
            PREPARE_DISH,
            kwargs=order.as_dict(),
            task_id=letter.order_id,
            # Celery counts attempts from 0: the kitchen reads this one as `attempt`.
            retries=attempt - 1,
            queue=station_queue(station),
            producer=producer,
            event_dispatcher=announcer,
        )
