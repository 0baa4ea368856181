"""Placing and following orders through Celery, by task name only (no kitchen code here)."""

import itertools
import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import redis
from celery import Celery, states
from kombu.exceptions import OperationalError
from kombu.utils.url import maybe_sanitize_url
from redis.backoff import NoBackoff
from redis.retry import Retry

from restaurant.names import PREPARE_DISH
from restaurant.orders import Order
from waiter.exceptions import BadInput, OrderNotFound, RedisUnavailable, WaitTimedOut

#: Marks the record the waiter writes when it places an order, before any cook has seen it.
_PLACED = "placed"


@dataclass(frozen=True)
class PlacedOrder:
    """An order on its way to the kitchen."""

    order_id: str
    order: Order


@dataclass(frozen=True)
class Outcome:
    """How a dish ended: ready, or failed with a reason."""

    order_id: str
    ready: bool
    attempts: int
    reason: str = ""
    worker: str = ""


@dataclass(frozen=True)
class StatusReport:
    """Where an order stands, as the result backend tells it."""

    order_id: str
    status: str
    table: int | None
    dish: str | None
    attempts: int
    note: str | None = None
    reason: str = ""
    worker: str = ""
    details: dict[str, Any] | None = None


@cache
def celery_app() -> Celery:
    """Return the waiter's own Celery app, configured from celeryconfig like the kitchen's."""
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
    where = maybe_sanitize_url(url)
    try:
        yield
    except (redis.exceptions.AuthenticationError, redis.exceptions.ResponseError) as exc:
        text = str(exc)
        if "NOAUTH" in text or "HELLO must be called" in text:
            raise RedisUnavailable(
                f"Redis at {where} wants a password; put it in the URL"
            ) from None
        if isinstance(exc, redis.exceptions.AuthenticationError) or "WRONGPASS" in text:
            raise RedisUnavailable(f"Redis at {where} refused our credentials: {text}") from None
        raise
    except redis.exceptions.InvalidResponse:
        raise RedisUnavailable(f"the server at {where} does not answer like Redis") from None
    except (
        redis.exceptions.ConnectionError,
        redis.exceptions.TimeoutError,
        OperationalError,
        OSError,
    ) as exc:
        raise RedisUnavailable(f"cannot reach Redis at {where}: {_first_line(exc)}") from None


def check_reachable(app: Celery) -> None:
    """Ping the broker and the result backend, each bounded by REDIS_CONNECT_TIMEOUT.

    Celery's own clients retry with their own policies and can take half a minute to give up
    on a silent server; this answers within twice the connect timeout.
    """
    for url in dict.fromkeys((app.conf.result_backend, app.conf.broker_url)):
        if not url.startswith(("redis://", "rediss://", "unix://")):
            continue
        with redis_errors(url), _bounded_client(app, url) as client:
            client.ping()


def _bounded_client(app: Celery, url: str) -> redis.Redis:
    """A Redis client that gives up after the connect timeout, without retrying."""
    timeout = app.conf.broker_connection_timeout
    return redis.Redis.from_url(
        url, socket_connect_timeout=timeout, socket_timeout=timeout, retry=Retry(NoBackoff(), 0)
    )


def place_orders(orders: list[Order]) -> Iterator[PlacedOrder]:
    """Send one `kitchen.prepare_dish` task per order, yielding each as it is sent.

    Each order is first recorded as placed in the result backend (one pipelined round trip),
    which also proves Redis answers before anything is enqueued, and lets `waiter status`
    tell a queued order from an unknown id.
    """
    app = celery_app()
    check_reachable(app)
    placed = [PlacedOrder(str(uuid.uuid4()), order) for order in orders]
    with redis_errors(app.conf.result_backend):
        _record_placed(app, placed)
    sent = 0
    try:
        with redis_errors(app.conf.broker_url), app.producer_or_acquire() as producer:
            for item in placed:
                app.send_task(
                    PREPARE_DISH,
                    kwargs=item.order.model_dump(),
                    task_id=item.order_id,
                    producer=producer,
                )
                sent += 1
                yield item
    except RedisUnavailable as exc:
        if sent:
            raise RedisUnavailable(f"{exc} ({sent} of {len(placed)} orders were sent)") from None
        raise
    finally:
        if sent < len(placed):
            _forget(app, placed[sent:])


def follow(order_ids: list[str], timeout: float) -> Iterator[Outcome]:
    """Yield the outcome of each order as it finishes; raise WaitTimedOut after `timeout` s.

    Celery's result backend publishes each stored result on a channel named after its key:
    the waiter subscribes to those first, then reads what was already stored, so no outcome
    slips between the two. Its own loop keeps --timeout exact.
    """
    app = celery_app()
    backend = app.backend
    channels = [backend.get_key_for_task(order_id) for order_id in order_ids]
    pending = set(order_ids)
    deadline = time.monotonic() + timeout
    url = app.conf.result_backend
    with redis_errors(url), _bounded_client(app, url) as client, client.pubsub() as pubsub:
        pubsub.subscribe(*channels)
        stored = (raw for raw in client.mget(channels) if raw is not None)
        try:
            for meta in itertools.chain(
                map(backend.decode_result, stored), _published(pubsub, backend, deadline)
            ):
                if meta["status"] in states.READY_STATES and meta["task_id"] in pending:
                    pending.discard(meta["task_id"])
                    yield _outcome(meta["task_id"], meta)
                    if not pending:
                        return
        except redis.ConnectionError as exc:
            where = maybe_sanitize_url(url)
            raise RedisUnavailable(f"lost Redis at {where}: {_first_line(exc)}") from None
    raise WaitTimedOut(
        f"timed out after {timeout:g} s with {len(pending)} of {len(order_ids)} dishes not done; "
        "they are still in the kitchen (see 'waiter status ID')"
    )


def _published(
    pubsub: redis.client.PubSub, backend: Any, deadline: float
) -> Iterator[dict[str, Any]]:
    """Yield each result published on the subscribed channels until `deadline`."""
    while (remaining := deadline - time.monotonic()) > 0:
        message = pubsub.get_message(ignore_subscribe_messages=True, timeout=remaining)
        if message is not None and message["type"] == "message":
            yield backend.decode_result(message["data"])


def order_status(order_id: str) -> StatusReport:
    """Read where an order stands from the result backend."""
    try:
        uuid.UUID(order_id)
    except ValueError:
        raise BadInput(f"{order_id!r} is not an order id (they look like {uuid.uuid4()})") from None
    app = celery_app()
    check_reachable(app)
    with redis_errors(app.conf.result_backend):
        meta = app.backend.get_task_meta(order_id)
    state, result = meta["status"], meta.get("result")
    fields = meta.get("kwargs") or {}
    if state == states.PENDING and not (isinstance(result, dict) and result.get(_PLACED)):
        raise OrderNotFound(f"no order {order_id} (never placed, or its record has expired)")
    report = StatusReport(
        order_id=order_id,
        status="pending",
        table=fields.get("table"),
        dish=fields.get("dish"),
        note=fields.get("note"),
        attempts=(meta.get("retries") or 0) + (0 if state == states.PENDING else 1),
        worker=meta.get("worker") or "",
    )
    if state == states.SUCCESS and isinstance(result, dict):
        return replace(report, status="ready", details=result)
    if state in (states.FAILURE, states.RETRY):
        status = "failed" if state == states.FAILURE else "retrying"
        return replace(report, status=status, reason=describe_failure(result))
    if state == states.STARTED:
        return replace(report, status="preparing")
    if state == states.REVOKED:
        return replace(report, status="cancelled")
    return replace(report, details=result if isinstance(result, dict) else None)


def describe_failure(error: object) -> str:
    """Say in words why a dish failed, from the exception the result backend stored."""
    name = type(error).__name__
    if name == "TimeLimitExceeded":
        return "took too long: killed at its hard time limit"
    if name == "WorkerLostError":
        return "the cook's process died while cooking it"
    text = str(error).strip() or name
    ours = ("OrderFailed", "InvalidOrder", "KitchenTrouble")
    return text if name in ours else f"{name}: {text}"


def _outcome(order_id: str, meta: dict[str, Any]) -> Outcome:
    attempts = (meta.get("retries") or 0) + 1
    result = meta.get("result")
    if meta["status"] == states.SUCCESS and isinstance(result, dict):
        return Outcome(
            order_id,
            True,
            int(result.get("attempts", attempts)),
            worker=str(result.get("worker", "")),
        )
    return Outcome(
        order_id,
        False,
        attempts,
        reason=describe_failure(result),
        worker=str(meta.get("worker") or ""),
    )


def _record_placed(app: Celery, placed: list[PlacedOrder]) -> None:
    backend = app.backend
    with backend.client.pipeline(transaction=False) as pipe:
        for item in placed:
            kwargs = item.order.model_dump()
            meta = {
                "status": states.PENDING,
                "result": {_PLACED: True, "ordered_at": item.order.ordered_at},
                "traceback": None,
                "children": [],
                "date_done": None,
                "task_id": item.order_id,
                "name": PREPARE_DISH,
                "args": [],
                "kwargs": kwargs,
                "retries": 0,
            }
            pipe.set(
                backend.get_key_for_task(item.order_id),
                backend.encode(meta),
                ex=int(app.conf.result_expires),
            )
        pipe.execute()


def _forget(app: Celery, unsent: list[PlacedOrder]) -> None:
    """Remove the records of orders that never reached the queue (best effort)."""
    try:
        keys = [app.backend.get_key_for_task(item.order_id) for item in unsent]
        app.backend.client.delete(*keys)
    except redis.exceptions.RedisError:
        pass


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
