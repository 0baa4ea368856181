"""Claiming an order for one cook: waiting for another cook's lease, giving up cancelled orders."""

import time
from collections.abc import Callable
from contextlib import suppress
from typing import NoReturn

from celery import Task
from celery.exceptions import Ignore, Reject, SoftTimeLimitExceeded
from celery.utils.log import get_task_logger
from kombu.exceptions import OperationalError

from kitchen.events import KitchenNews
from restaurant.claims import CookClaim, CookLease
from restaurant.events import Kind, OrderEvent
from restaurant.exceptions import OrderFailed
from restaurant.menu import Dish
from restaurant.orders import Order

logger = get_task_logger(__name__)

#: Seconds between two looks at an order another cook holds.
_WAIT_FOR_LEASE = 0.1


class CookReplaced(Exception):
    """Another cook holds the lease on the order this one was cooking."""


def claim_order(
    task: Task,
    news: KitchenNews,
    lease: CookLease,
    dish: Dish,
    order: Order,
    *,
    first_events: Callable[[], list[OrderEvent]],
) -> CookClaim:
    """Claim the order for this cook, or settle a delivery that must not be cooked.

    Claimed, the order's `first_events()` are recorded with the claim, in one round trip.

    A finished order is acknowledged without cooking (a duplicate or a redelivery after the
    dish was done). An order another cook is working on is waited for: if that cook dies its
    lease lapses within KITCHEN_LEASE_SECONDS and this delivery takes over. A message
    delivered more than KITCHEN_MAX_DELIVERIES times, its cooks dying each time, is failed.
    """
    waiting = False
    try:
        while True:
            claim = news.claim(lease, first_events())
            if claim.verdict == "cook":
                return claim
            settle_unclaimed(task, news, lease, claim, dish=dish, order=order)
            if not waiting:
                logger.info(
                    "%s for table %d is in another cook's hands (%s); waiting.",
                    dish.name,
                    order.table,
                    claim.detail,
                )
                waiting = True
            time.sleep(_WAIT_FOR_LEASE)
    except SoftTimeLimitExceeded:
        if waiting:
            # The other cook has had longer than this dish may take: it finishes or fails it.
            logger.warning(
                "Dropped a duplicate delivery of %s for table %d.", dish.name, order.table
            )
            raise Ignore() from None
        hand_back_unclaimed(dish, order)


def hand_back_unclaimed(dish: Dish, order: Order) -> NoReturn:
    """Requeue a delivery whose claim got no answer in time (Redis restarting): never cooked."""
    logger.warning("Handing %s for table %d back: no claim in time.", dish.name, order.table)
    raise Reject("no claim within the time limit", requeue=True) from None


def settle_unclaimed(
    task: Task, news: KitchenNews, lease: CookLease, claim: CookClaim, *, dish: Dish, order: Order
) -> None:
    """End a delivery the ledger would not let this cook have, unless another cook is on it.

    A finished order is acknowledged without cooking; a poison message is failed. Returns
    only when the order is busy in another cook's hands.
    """
    if claim.verdict == "finished":
        if claim.detail == "cancelled":
            give_up_cancelled(task, "%s for table %d was cancelled; not cooking it.", dish, order)
        logger.info(
            "%s for table %d is already %s; not cooking it again.",
            dish.name,
            order.table,
            claim.detail,
        )
        raise Ignore()
    if claim.verdict == "poison":
        reason = f"poison: its cook died on each of its {claim.delivery - 1} deliveries"
        logger.error("%s for table %d is %s", dish.name, order.table, reason)
        news.tell_surely(
            Kind.FAILED,
            lease.order_id,
            reason=reason,
            error="WorkerLostError: the pool process cooking it exited",
            table=order.table,
            dish=dish.name,
            attempt=lease.attempt,
            delivery=claim.delivery,
            worker=task.request.hostname,
        )
        raise OrderFailed(reason)


def give_up_cancelled(task: Task, message: str, dish: Dish, order: Order) -> NoReturn:
    """Stop work on a cancelled order: its message is acknowledged, its result says revoked."""
    logger.info(message, dish.name, order.table)
    task.backend.mark_as_revoked(task.request.id, "cancelled", request=task.request)
    # An ignored task sends no event of its own: tell Flower it was revoked.
    with suppress(OperationalError, OSError):
        task.send_event("task-revoked", terminated=False, signum=None, expired=False)
    raise Ignore()
