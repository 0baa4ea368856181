"""Placing, reading and cancelling orders: Celery by task name only, and the order ledger."""

import logging
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import cache
from typing import TYPE_CHECKING

import redis

from restaurant import sentinel
from restaurant.connections import REDIS_SCHEMES, bounded_redis
from restaurant.events import Kind, make_event
from restaurant.ledger import Ledger
from restaurant.records import OrderRecord
from restaurant.schedule import Schedule
from waiter.conf import BrokerSettings, read_settings
from waiter.exceptions import AlreadyFinished, BadInput, OrderNotFound, RedisUnavailable

if TYPE_CHECKING:
    from celery import Celery


@cache
def celery_app() -> "Celery":
    """Return the waiter's own Celery app, configured from celeryconfig like the kitchen's."""
    # Imported here: placing orders on a Redis broker needs no Celery (waiter.fastpath).
    from celery import Celery  # noqa: PLC0415

    app = Celery("waiter")
    app.config_from_object("celeryconfig")
    # The waiter reports errors itself, in one line; Celery's and kombu's log lines would
    # otherwise reach stderr through logging's last-resort handler.
    for name in ("celery", "kombu"):
        logging.getLogger(name).addHandler(logging.NullHandler())
    return app


@contextmanager
def redis_errors(url: str) -> Iterator[None]:
    """Turn a broken or refusing Redis into RedisUnavailable naming `url` without its password."""
    try:
        yield
    except (redis.exceptions.AuthenticationError, redis.exceptions.ResponseError) as exc:
        where = _sanitized(url)
        text = str(exc)
        if "NOAUTH" in text or "HELLO must be called" in text:
            raise RedisUnavailable(
                f"Redis at {where} wants a password; put it in the URL"
            ) from None
        if isinstance(exc, redis.exceptions.AuthenticationError) or "WRONGPASS" in text:
            raise RedisUnavailable(f"Redis at {where} refused our credentials: {text}") from None
        raise
    except redis.exceptions.InvalidResponse:
        raise RedisUnavailable(
            f"the server at {_sanitized(url)} does not answer like Redis"
        ) from None
    except _unreachable() as exc:
        raise RedisUnavailable(
            f"cannot reach Redis at {_sanitized(url)}: {first_line(exc)}"
        ) from None


def _unreachable() -> tuple[type[Exception], ...]:
    """The errors that mean Redis is out of reach; kombu's only if kombu is loaded at all."""
    errors = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)
    kombu = sys.modules.get("kombu.exceptions")
    return (*errors, kombu.OperationalError) if kombu is not None else errors


def _sanitized(url: str) -> str:
    """The URL with its password masked (each part of a Sentinel URL)."""
    return sentinel.sanitized(url)


def check_reachable(conf: BrokerSettings, *, ledger_too: bool = True) -> None:
    """Ping the broker and the result backend, each bounded by REDIS_CONNECT_TIMEOUT.

    Celery's own clients retry with their own policies and can take half a minute to give up
    on a silent server; this answers within twice the connect timeout. With `ledger_too`
    off, the result backend is left out (and so is a broker at the same URL): the caller's
    next step is a bounded write there, which finds out as soon.
    """
    for url in dict.fromkeys((conf.result_backend, conf.broker_url)):
        if not ledger_too and url == conf.result_backend:
            continue
        if not url.startswith(REDIS_SCHEMES):
            continue
        with redis_errors(url):
            bounded_client(conf, url).ping()


def bounded_client(
    conf: BrokerSettings, url: str, name: str = "waiter", *, wait_out_failovers: bool = True
) -> redis.Redis:
    """A Redis client that gives up after the connect timeout, without retrying.

    One per URL and name in a process: the ping that checks Redis, the ledger and the queue
    share its connection instead of opening one each. Through Sentinel it waits out a
    failover unless `wait_out_failovers` is off (see restaurant.connections.bounded_redis).
    """
    waits = wait_out_failovers and sentinel.is_sentinel(url)  # only Sentinel clients wait
    return _shared_client(url, float(conf.broker_connection_timeout), name, waits)


@cache
def _shared_client(url: str, timeout: float, name: str, wait_out_failovers: bool) -> redis.Redis:
    return bounded_redis(url, timeout, name, wait_out_failovers=wait_out_failovers)


def open_ledger(
    conf: BrokerSettings, name: str = "waiter", *, wait_out_failovers: bool = True
) -> Ledger:
    """Return the ledger in the result backend's Redis database, through a bounded client."""
    client = bounded_client(conf, conf.result_backend, name, wait_out_failovers=wait_out_failovers)
    return _ledger_on(client)


@cache
def _ledger_on(client: redis.Redis) -> Ledger:
    """One ledger per client in a process: its settings read and its script hashed once."""
    return Ledger.from_settings(client)


def fire_course(table: int, course: int) -> list[str]:
    """Send every held dish of one table's course to the kitchen; return their order ids."""
    from waiter.firing import restore, send_held  # noqa: PLC0415  (it needs Celery)

    app = celery_app()
    check_reachable(app.conf)
    ledger = open_ledger(app.conf)
    schedule = Schedule(ledger.client)
    with redis_errors(app.conf.result_backend):
        claimed = schedule.claim_course(table, course, time.time())
    if not claimed:
        raise OrderNotFound(f"no course {course} is held for table {table}")
    handled: set[str] = set()
    try:
        with redis_errors(app.conf.broker_url):
            return send_held(app, ledger, claimed, "waiter", handled)
    except RedisUnavailable:
        with suppress(redis.exceptions.RedisError):
            restore(schedule, claimed, handled)
        raise
    finally:
        with suppress(redis.exceptions.RedisError, OSError):
            schedule.done(sorted(handled))


def order_record(order_id: str) -> OrderRecord:
    """Read an order and its history from the ledger."""
    check_order_id(order_id)
    conf = read_settings()
    with redis_errors(conf.result_backend):
        record = open_ledger(conf).order(order_id)
    if record is None:
        raise OrderNotFound(f"no order {order_id} (never placed, or its record has expired)")
    return record


def list_orders(table: int | None, open_only: bool, limit: int) -> list[OrderRecord]:
    """List open or recent orders from the ledger, oldest first."""
    conf = read_settings()
    with redis_errors(conf.result_backend):
        return open_ledger(conf).orders(table=table, open_only=open_only, limit=limit)


def cancel_order(order_id: str) -> OrderRecord:
    """Cancel an order that is not finished; return its record from before the cancellation.

    The ledger says cancelled at once; a cook checks the ledger before cooking and while
    cooking, so a queued order is never cooked and one on the stove stops within a moment.
    """
    check_order_id(order_id)
    conf = read_settings()
    with redis_errors(conf.result_backend):
        ledger = open_ledger(conf)
        before = ledger.order(order_id, with_history=False)
        recorded = ledger.record(
            make_event(Kind.CANCELLED, order_id, reason="cancelled by the waiter")
        )
        # A held order is forgotten too, so that it never fires.
        Schedule(ledger.client).release(order_id)
    if before is None or recorded.status == "":
        raise OrderNotFound(f"no order {order_id} (never placed, or its record has expired)")
    if not recorded.applied:
        raise AlreadyFinished(f"order {order_id} is already {recorded.status}; too late to cancel")
    return before


def check_order_id(order_id: str) -> None:
    """Refuse anything that is not an order id, before asking Redis."""
    try:
        uuid.UUID(order_id)
    except ValueError:
        raise BadInput(f"{order_id!r} is not an order id (they look like {uuid.uuid4()})") from None


def first_line(exc: BaseException) -> str:
    """Return the first line of an exception's message (or its type's name)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
