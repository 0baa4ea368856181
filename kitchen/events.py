"""Publishing order events from the kitchen, and the cook's lease on the order it cooks."""

import logging
import math
import os
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import redis
from redis.backoff import ExponentialBackoff
from redis.client import Pipeline
from redis.retry import Retry

from kitchen.celery import app
from kitchen.green import green
from restaurant.claims import Claims, CookClaim, CookLease, ResultWrite, renewal
from restaurant.connections import bounded_redis
from restaurant.events import Kind, OrderEvent, make_event
from restaurant.exceptions import NotReplicated
from restaurant.ledger import Ledger
from restaurant.pipelines import run_together
from restaurant.records import Recorded, recorded
from restaurant.replication import confirm, replicas_wanted

logger = logging.getLogger(__name__)

#: Connections the cooks of one gevent worker share: a few keep one process's calls flowing.
GREEN_CONNECTIONS = 32
#: Longest pause between two tries of a report that must get through.
_BACKOFF_CAP = 1.0
#: Errors that mean Redis is away (restarting, unreachable), not that it refused.
_UNREACHABLE = (redis.ConnectionError, redis.TimeoutError, OSError)


class LedgerUnreachable(Exception):
    """Redis stayed unreachable for longer than KITCHEN_REPORT_PATIENCE."""


class KitchenNews:
    """Tells the ledger (and so every subscriber) how orders are going.

    Progress is news: a failed publish is logged and forgotten, and the cook cooks on. The
    outcome of a dish (ready, failed) and the claim on an order are not: they are tried again
    for up to `patience` seconds, long enough for Redis to restart.
    """

    def __init__(self, ledger: Ledger, claims: Claims, patience: float, replicas: int = 0) -> None:
        self.ledger = ledger
        self.claims = claims
        #: Replicas that must have an outcome before its message is acknowledged.
        self.replicas = replicas
        tries = max(0, math.ceil(patience / _BACKOFF_CAP))
        self._retry = Retry(
            ExponentialBackoff(cap=_BACKOFF_CAP, base=0.05),
            tries,
            supported_errors=_UNREACHABLE,
        )

    def tell(self, kind: Kind, order_id: str, **fields: Any) -> Recorded | None:
        """Record and publish one event (one try); return what the ledger did, or None."""
        try:
            return self.ledger.record(make_event(kind, order_id, **fields))
        except (redis.RedisError, OSError, ValueError) as exc:
            logger.warning("Could not publish the %s event of order %s: %s", kind, order_id, exc)
            return None

    def tell_all(self, events: list[OrderEvent]) -> list[Recorded | None]:
        """Record and publish several events in one round trip (one try), like `tell`."""
        replies: list[Recorded | Exception]
        try:
            replies = [*self.ledger.record_many(events, raise_on_error=False)]
        except (redis.RedisError, OSError, ValueError) as exc:
            replies = [exc] * len(events)
        told: list[Recorded | None] = []
        for event, reply in zip(events, replies, strict=True):
            if isinstance(reply, Exception):
                logger.warning(
                    "Could not publish the %s event of order %s: %s",
                    event.event,
                    event.order_id,
                    reply,
                )
            told.append(None if isinstance(reply, Exception) else reply)
        return told

    def tell_surely(
        self,
        kind: Kind,
        order_id: str,
        also: Callable[[Pipeline], None] | None = None,
        **fields: Any,
    ) -> Recorded | None:
        """Record and publish an outcome, trying again while Redis is unreachable.

        What `also` queues on the pipeline (the task's result) goes after it, in the same round
        trip. With replicas to wait for, it returns once they have the outcome too
        (restaurant/replication.py).
        Raises LedgerUnreachable when Redis stays away or no replica confirms; any other
        refusal (a key of the wrong type) is logged and answered with None, as for `tell`:
        trying again would not help.
        """
        event = make_event(kind, order_id, **fields)

        def record() -> Recorded:
            if also is None:
                return self.ledger.record(event)
            return self.ledger.record_along(event, also)

        try:
            told = self._retry.call_with_retry(record, _ignore)
            confirm(self.ledger.client, self.replicas)
        except (*_UNREACHABLE, NotReplicated) as exc:
            raise LedgerUnreachable(f"the {kind} event of order {order_id}: {exc}") from exc
        except redis.RedisError as exc:
            logger.warning("Could not publish the %s event of order %s: %s", kind, order_id, exc)
            return None
        return told

    def lease(self, order_id: str, attempt: int) -> CookLease:
        """Return this cook's (unclaimed) lease on one attempt at an order."""
        return self.claims.cook_lease(order_id, attempt, app.conf.kitchen_lease_seconds)

    def claim(
        self,
        lease: CookLease,
        first_events: Sequence[OrderEvent] = (),
        result: ResultWrite | None = None,
    ) -> CookClaim:
        """Claim an order for cooking, trying again while Redis is unreachable.

        When the lease is taken, `first_events` are recorded in the same round trip, each as
        of the delivery counted (CookClaim.recorded), then the `result` if they made the order
        ready; otherwise nothing is recorded at all.
        Raises LedgerUnreachable when Redis stays away. When the ledger refuses otherwise (a
        key of the wrong type), the cook goes ahead unguarded rather than never cooking, and
        its first events (and result) are told one more time, as news.
        """
        max_deliveries = app.conf.kitchen_max_deliveries
        try:
            return self._retry.call_with_retry(
                lambda: lease.claim(
                    max_deliveries, self.ledger.retention, self.ledger, first_events, result
                ),
                _ignore,
            )
        except _UNREACHABLE as exc:
            raise LedgerUnreachable(f"claiming order {lease.order_id}: {exc}") from exc
        except redis.RedisError as exc:
            logger.warning("Could not claim order %s: %s; cooking it anyway", lease.order_id, exc)
            told = self.tell_all(list(first_events)) if first_events else []
            if result is not None and told and told[-1] is not None and told[-1].applied:
                self._write(result, delivery=1)
            unknown = Recorded(0, "")
            return CookClaim(
                "cook", "", 1, 1, guarded=False, recorded=tuple(reply or unknown for reply in told)
            )

    def finish_at_once(
        self, lease: CookLease, events: Sequence[OrderEvent], result: ResultWrite
    ) -> CookClaim:
        """Claim an order already cooked, with its events up to `ready` and its result.

        One round trip; with replicas to wait for, it returns once they have them too.
        Raises LedgerUnreachable when Redis stays away or no replica confirms.
        """
        claim = self.claim(lease, events, result)
        if claim.verdict == "cook":
            try:
                confirm(self.ledger.client, self.replicas)
            except (*_UNREACHABLE, NotReplicated) as exc:
                what = f"the ready event of order {lease.order_id}"
                raise LedgerUnreachable(f"{what}: {exc}") from exc
        return claim

    def _write(self, result: ResultWrite, delivery: int) -> None:
        """Write and publish a result (one try, as news)."""
        try:
            with self.ledger.client.pipeline(transaction=False) as pipe:
                queue_result(pipe, result.key, result.text(delivery), result.expires)
                pipe.execute()
        except (redis.RedisError, OSError) as exc:
            logger.warning("Could not store the result %s: %s", result.key, exc)

    def check_in(
        self, lease: CookLease | None, progress: Sequence[OrderEvent]
    ) -> tuple[bool, str | None]:
        """Keep the lease and record `progress`, in one round trip (either may be missing).

        Returns (the lease is still ours, the order's status if heard). Errors are logged and
        keep the dish going. A progress event sent by a cook whose lease has just passed to
        another is harmless: it ranks below every event of the newer delivery.
        """
        if lease is None and not progress:
            return True, None

        def queue(pipe: Pipeline) -> None:
            if lease is not None:
                lease.renew(client=pipe)
            for event in progress:
                self.ledger.record(event, client=pipe)

        scripts = [*self.claims.scripts, *self.ledger.scripts]
        try:
            replies = run_together(self.ledger.client, queue, scripts)
        except (redis.RedisError, OSError, ValueError) as exc:
            order_id = lease.order_id if lease is not None else progress[0].order_id
            logger.warning("Could not renew or report order %s: %s", order_id, exc)
            return True, None
        status = recorded(replies[-1]).status if progress else None
        if lease is not None:
            held, detail = renewal(replies[0])
            if not held:
                return False, None
            status = detail
        return True, status or None


def queue_result(pipe: Pipeline, key: str, value: Any, expires: int | None) -> None:
    """Queue a task's result as Celery's Redis backend writes it: SETEX (or SET), then PUBLISH."""
    if expires:
        pipe.setex(key, expires, value)
    else:
        pipe.set(key, value)
    pipe.publish(key, value)


def _ignore(_: Exception) -> None:
    """Nothing to undo between tries: each try opens its connection afresh."""


@cache
def _news_for(pid: int) -> KitchenNews:
    # One connection attempt per try: the retries are KitchenNews's own, and bounded. Not
    # broker_connection_timeout, which Celery sets to None in a gevent worker.
    timeout = float(app.conf.redis_socket_connect_timeout)
    # Not held up by a failover: outcomes and claims are retried below (KITCHEN_REPORT_PATIENCE),
    # and a progress report that waited would hold up the dish past its time limit.
    # On gevent, hundreds of cooks share a few connections rather than each opening its own.
    client = bounded_redis(
        app.conf.result_backend,
        timeout,
        "kitchen",
        wait_out_failovers=False,
        max_connections=GREEN_CONNECTIONS if green() else None,
    )
    return KitchenNews(
        Ledger.from_settings(client),
        Claims(client),
        app.conf.kitchen_report_patience,
        replicas_wanted(app.conf.result_backend),
    )


def get_news() -> KitchenNews:
    """Return this process's publisher (each pool process opens its own connections)."""
    return _news_for(os.getpid())
