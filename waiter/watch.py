"""Hearing order events over Redis pub/sub: following placed orders, and watching live."""

import itertools
import random
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import msgspec
import redis

from restaurant import sentinel
from restaurant.connections import FAILOVER_SECONDS
from restaurant.events import OrderEvent, parse_event
from restaurant.ledger import Ledger
from waiter.client import first_line, open_ledger, redis_errors
from waiter.conf import BrokerSettings, read_settings
from waiter.display import counted
from waiter.exceptions import RedisUnavailable, WaitTimedOut

#: Above this many orders, --wait listens to the channel of every order instead of each one's.
_MAX_ORDER_CHANNELS = 100
#: How long a watcher waits between reconnection attempts: doubling from the first to the cap.
_RECONNECT_FIRST, _RECONNECT_CAP = 0.1, 5.0
#: Orders whose last seen event a watcher remembers, to replay only what it missed.
_REMEMBERED = 10_000


def follow(
    order_ids: list[str], timeout: float, since: float | None = None
) -> Iterator[OrderEvent]:
    """Yield each order's events as they happen until every order is finished.

    Subscribes first, then reads each order's latest event from the ledger, so nothing that
    happens between the two is missed; events are told apart by their sequence number.
    Through Sentinel a lost connection is taken up again the same way, for as long as a
    failover may take. Raises WaitTimedOut `timeout` seconds after `since` (a `monotonic()`
    time: when the orders were placed; by default now), RedisUnavailable if Redis goes away
    (and, through Sentinel, does not come back within FAILOVER_SECONDS).
    """
    conf = read_settings()
    url = conf.result_backend
    pending = set(order_ids)
    seen: dict[str, tuple[int, bool]] = {}
    deadline = (time.monotonic() if since is None else since) + timeout
    lost_at: float | None = None
    connected_once = False
    failures = 0
    with redis_errors(url):
        while time.monotonic() < deadline:
            ledger = _listening_ledger(conf, "waiter")
            try:
                with ledger.client, _pubsub(ledger) as pubsub:
                    waiting = sorted(pending)
                    channels = _order_channels(ledger, waiting)
                    pubsub.subscribe(*channels)
                    _confirm(pubsub, len(channels))
                    # Reached: losing Redis from here on (even before the catch-up read below
                    # answers) is a gap to ride out, not a Redis that cannot be reached.
                    connected_once = True
                    latest = ledger.latest_events(waiting)
                    lost_at, failures = None, 0
                    for event in itertools.chain(latest, _heard(pubsub, deadline)):
                        if event.order_id not in pending or not _is_news(seen, event):
                            continue
                        seen[event.order_id] = (event.seq, event.final)
                        yield event
                        if event.final:
                            pending.discard(event.order_id)
                            if not pending:
                                return
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                if not connected_once:
                    raise
                if lost_at is None:
                    lost_at = time.monotonic()
                if not _rides_out(url, lost_at):
                    where = sentinel.sanitized(url)
                    raise RedisUnavailable(f"lost Redis at {where}: {first_line(exc)}") from None
                _pause(failures, deadline)
                failures += 1
    dishes = counted(len(order_ids), "dish", "dishes")
    they_are = "it is" if len(pending) == 1 else "they are"
    raise WaitTimedOut(
        f"timed out after {timeout:g} s with {len(pending)} of {dishes} not done; "
        f"{they_are} still in the kitchen (see 'waiter status ID')"
    )


def _listening_ledger(conf: BrokerSettings, name: str) -> Ledger:
    """The ledger on a client that does not reconnect by itself, for a caller that subscribes.

    A pubsub on a client that retries (as through Sentinel) subscribes again in silence after
    a lost connection, and whatever was published meanwhile goes unheard; its caller must see
    the loss, to catch up from the ledger.
    """
    return open_ledger(conf, name, wait_out_failovers=False)


def _order_channels(ledger: Ledger, order_ids: list[str]) -> list[str]:
    """The channels that carry these orders' events: each one's, or the one of every order."""
    if len(order_ids) <= _MAX_ORDER_CHANNELS:
        return [ledger.channel(order_id=order_id) for order_id in order_ids]
    return [ledger.channel()]


def _rides_out(url: str, lost_at: float) -> bool:
    """Whether a wait goes on after losing Redis at `lost_at`: through Sentinel, for a while."""
    return sentinel.is_sentinel(url) and time.monotonic() - lost_at < FAILOVER_SECONDS


def _pause(failures: int, deadline: float | None = None) -> None:
    """Sleep before the next reconnection attempt: doubling from the first to the cap."""
    delay = min(_RECONNECT_CAP, _RECONNECT_FIRST * 2**failures)
    delay = random.uniform(delay / 2, delay)
    if deadline is not None:
        delay = max(0.0, min(delay, deadline - time.monotonic()))
    time.sleep(delay)


@dataclass(frozen=True)
class Notice:
    """News about the watch itself (connection lost, reconnected), not about an order."""

    text: str


def watch(table: int | None = None, order_id: str | None = None) -> Iterator[OrderEvent | Notice]:
    """Yield live events (of one table, one order, or all) until the caller stops.

    Pub/sub delivers at most once: when the connection drops, this says so, reconnects with
    backoff and then replays from the ledger every event published while it was away.
    """
    conf = read_settings()
    url = conf.result_backend
    where = sentinel.sanitized(url)
    last_seq: OrderedDict[str, tuple[int, bool]] = OrderedDict()
    lost_at: float | None = None
    alive = _LastRead()
    connected_once = False
    failures = 0
    with redis_errors(url):
        while True:
            ledger = _listening_ledger(conf, "waiter-watch")
            channel = ledger.channel(table=table, order_id=order_id)
            try:
                with ledger.client, _pubsub(ledger) as pubsub:
                    pubsub.subscribe(channel)
                    _confirm(pubsub, 1)
                    alive.at = time.time()
                    connected_once = True
                    missed: list[OrderEvent] = []
                    if lost_at is not None:
                        yield Notice(
                            f"reconnected to Redis at {where} after "
                            f"{time.time() - lost_at:.1f} s; replaying what was missed"
                        )
                        missed = _missed(ledger, lost_at, last_seq, table, order_id)
                        lost_at, failures = None, 0
                    for event in itertools.chain(missed, _heard(pubsub, None, alive)):
                        if not _is_news(last_seq, event):
                            continue
                        _remember(last_seq, event)
                        yield event
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                # Failing to connect at all, or being refused, is an error; a lost connection
                # is a gap to report and to fill.
                if not connected_once or isinstance(exc, redis.AuthenticationError):
                    raise
                if lost_at is None:
                    # Noticed now, but lost at some time since it last answered: a watcher
                    # held up (stopped, starved) notices late, and must replay from then.
                    lost_at = alive.at
                    yield Notice(f"lost Redis at {where} ({first_line(exc)}); reconnecting")
                _pause(failures)
                failures += 1


def _missed(
    ledger: Ledger,
    since: float,
    last_seq: OrderedDict[str, tuple[int, bool]],
    table: int | None,
    order_id: str | None,
) -> list[OrderEvent]:
    """Events of the watched orders that happened while the watcher was away, oldest first."""
    # A second of slack covers clocks that differ between the kitchen's hosts and ours.
    candidates = [order_id] if order_id is not None else ledger.active_since(since - 1)
    missed = [
        event
        for candidate in candidates
        for event in ledger.history(candidate)
        if (table is None or event.table == table)
        and _is_news(last_seq, event)
        and (event.order_id in last_seq or event.time >= since - 1)
    ]
    return sorted(missed, key=lambda event: event.time)


@dataclass
class _LastRead:
    """When a subscription last answered a read (wall clock): it was alive until then."""

    at: float = field(default_factory=time.time)


def _heard(
    pubsub: redis.client.PubSub, deadline: float | None, alive: _LastRead | None = None
) -> Iterator[OrderEvent]:
    """Yield the events heard on the subscribed channels, until `deadline` if one is given."""
    while True:
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            return
        message = pubsub.get_message(
            ignore_subscribe_messages=True, timeout=1.0 if remaining is None else remaining
        )
        if alive is not None:
            alive.at = time.time()
        if message is None or message["type"] != "message":
            continue
        try:
            yield parse_event(message["data"])
        except msgspec.DecodeError:
            continue  # not one of ours: someone else's message on our channel


def _pubsub(ledger: Ledger) -> redis.client.PubSub:
    return ledger.client.pubsub()  # type: ignore[no-untyped-call,no-any-return]


def _confirm(pubsub: redis.client.PubSub, count: int) -> None:
    """Wait until the server has confirmed each subscription, so nothing is published unheard."""
    confirmed = 0
    while confirmed < count:
        message = pubsub.get_message(timeout=5.0)
        if message is None:
            raise redis.TimeoutError("no answer to SUBSCRIBE")
        if message["type"] == "subscribe":
            confirmed += 1


def _is_news(last_seq: Mapping[str, tuple[int, bool]], event: OrderEvent) -> bool:
    """Whether the watcher has yet to show `event`: later than the last event it showed of its
    order, or the order's end when it has not shown that.

    A master lost in a failover can take an order's last events with it, after the watcher
    heard them; the new master numbers the order's next events from where its copy ended, so
    its end may come with a number the watcher has already shown, and must not be dropped.
    """
    seq, ended = last_seq.get(event.order_id, (0, False))
    return event.seq > seq or (event.final and not ended)


def _remember(last_seq: OrderedDict[str, tuple[int, bool]], event: OrderEvent) -> None:
    # Its number even if lower (after a failover the new master's numbering is the truth), and
    # whether the order has ended (until `waiter retry` sends it back: `requeued` is not final).
    last_seq[event.order_id] = (event.seq, event.final)
    last_seq.move_to_end(event.order_id)
    while len(last_seq) > _REMEMBERED:
        last_seq.popitem(last=False)
