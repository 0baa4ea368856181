"""Finding orders whose message the Redis broker lost, and sending them again.

kombu's Redis transport takes a message off its queue with BRPOP and only then records it as
unacknowledged. A worker killed, or a Redis stopped, in the instant between the two loses that
message: the ledger says the order was sent, yet it is in no queue and in no cook's hands.
The scheduler looks for such orders: pending (or between retries) for longer than
ORDER_LOST_AFTER seconds, while their queue is empty and no unacknowledged message names
them. Such an order is certainly not waiting anywhere, so it is sent again; the kitchen's
claim on each order makes the rare needless second message harmless. RabbitMQ keeps
unacknowledged messages itself and needs none of this.
"""

import logging
from dataclasses import dataclass

import redis
from celery import Celery

from restaurant.ledger import Ledger
from restaurant.names import OPEN_KEY, ORDER_KEY, PREPARE_DISH
from restaurant.records import OrderRecord
from restaurant.routing import station_queue
from waiter.firing import event_sender

logger = logging.getLogger(__name__)

#: kombu's hash of the messages delivered to a cook and not yet acknowledged.
UNACKED_KEY = "unacked"
#: Statuses in which an order's message should be in a queue or in a cook's hands.
_IN_TRANSIT = ("pending", "retrying")


@dataclass(frozen=True)
class LostOrder:
    """An order to send again, and the attempt its message carries."""

    record: OrderRecord
    retries: int


def find_lost(
    ledger: Ledger, broker: redis.Redis, now: float, lost_after: float
) -> list[LostOrder]:
    """Return the open orders whose message is in no queue and in no cook's hands."""
    with ledger.client.pipeline(transaction=False) as pipe:
        ids = [_text(raw) for raw in ledger.client.zrange(OPEN_KEY, 0, -1)]
        for order_id in ids:
            pipe.hmget(ORDER_KEY.format(order_id=order_id), "status", "updated_at")
        states = pipe.execute()
    # (A waiter that died between the ledger and the broker leaves such an order too.)
    stale = [
        order_id
        for order_id, (status, updated) in zip(ids, states, strict=True)
        if status and _text(status) in _IN_TRANSIT and updated and now - float(updated) > lost_after
    ]
    if not stale:
        return []
    records = ledger.records(stale)
    queues = {
        station_queue(record.station, rush=record.rush)
        for record in records.values()
        if record.station
    }
    with broker.pipeline(transaction=False) as pipe:
        for queue in sorted(queues):
            pipe.llen(queue)
        lengths = dict(zip(sorted(queues), pipe.execute(), strict=True))
    in_hand = "".join(_text(raw) for raw in broker.hvals(UNACKED_KEY))
    lost = []
    for record in records.values():
        queue = station_queue(record.station or "", rush=record.rush)
        if lengths.get(queue, 1) or record.order_id in in_hand:
            continue  # it may be waiting in its queue, or a cook has it
        retries = record.attempt if record.status == "retrying" else max(record.attempt - 1, 0)
        lost.append(LostOrder(record, retries))
    return lost


def send_again(app: Celery, lost: list[LostOrder]) -> list[str]:
    """Send the lost orders' messages again, by task name; return their ids."""
    announcer = event_sender(app, "scheduler")
    sent = []
    with app.producer_or_acquire() as producer:
        for item in lost:
            record = item.record
            app.send_task(
                PREPARE_DISH,
                kwargs={
                    "table": record.table,
                    "dish": record.dish,
                    "note": record.note,
                    "ordered_at": record.created_at,
                },
                task_id=record.order_id,
                retries=item.retries,
                queue=station_queue(record.station or "", rush=record.rush),
                producer=producer,
                event_dispatcher=announcer,
            )
            logger.warning(
                "Order %s (%s for table %s) was lost in transit; sent it again",
                record.order_id,
                record.dish,
                record.table,
            )
            sent.append(record.order_id)
    return sent


def _text(raw: object) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)
