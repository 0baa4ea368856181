"""The cook's claim on a real Redis, with the dish's first events recorded in the same step."""

import uuid
from collections.abc import Iterator

import pytest
import redis

from restaurant.claims import Claims, ResultWrite
from restaurant.events import Kind, OrderEvent, make_event
from restaurant.ledger import Ledger
from restaurant.names import COOK_LEASE_KEY
from tests.conftest import empty_database
from tools.redis_server import RedisServer

WHERE = {"table": 3, "dish": "Soup", "station": "stove", "worker": "chef1@host", "attempt": 1}


@pytest.fixture
def client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """Database 8, emptied before each test."""
    with redis.Redis.from_url(empty_database(redis_server, 8)) as connection:
        yield connection


def first_events(order_id: str) -> list[OrderEvent]:
    return [
        make_event(Kind.RECEIVED, order_id, **WHERE),
        make_event(Kind.PREPARING, order_id, percent=0, **WHERE),
    ]


def test_the_first_events_are_recorded_only_with_the_lease(client: redis.Redis) -> None:
    ledger = Ledger(client, retention=60, recent_limit=100)
    claims = Claims(client)
    order_id = str(uuid.uuid4())
    ledger.record(make_event(Kind.CREATED, order_id, table=3, dish="Soup", station="stove"))
    client.script_flush()  # the scripts are loaded again on first use

    first = claims.cook_lease(order_id, 1, 30).claim(3, 60, ledger, first_events(order_id))
    busy = claims.cook_lease(order_id, 1, 30).claim(3, 60, ledger, first_events(order_id))
    client.delete(COOK_LEASE_KEY.format(order_id=order_id))  # the first cook died
    second = claims.cook_lease(order_id, 1, 30).claim(3, 60, ledger, first_events(order_id))

    assert (first.verdict, first.delivery) == ("cook", 1)
    assert [(step.seq, step.status) for step in first.recorded] == [
        (2, "received"),
        (3, "preparing"),
    ]
    assert (busy.verdict, busy.recorded) == ("busy", ())
    assert (second.verdict, second.delivery) == ("cook", 2)
    # The second delivery's steps rank above the first's, so they are applied too.
    assert [step.seq for step in second.recorded] == [4, 5]
    record = ledger.order(order_id)
    assert record is not None and record.status == "preparing"
    deliveries = [(event.event, event.delivery) for event in record.history]
    assert deliveries == [
        (Kind.CREATED, None),
        (Kind.RECEIVED, 1),
        (Kind.PREPARING, 1),
        (Kind.RECEIVED, 2),
        (Kind.PREPARING, 2),
    ]


def test_a_finished_order_is_not_claimed_and_nothing_is_recorded(client: redis.Redis) -> None:
    ledger = Ledger(client, retention=60, recent_limit=100)
    order_id = str(uuid.uuid4())
    ledger.record(make_event(Kind.CREATED, order_id, table=3, dish="Soup"))
    ledger.record(make_event(Kind.READY, order_id, percent=100, **WHERE))

    claim = Claims(client).cook_lease(order_id, 1, 30).claim(3, 60, ledger, first_events(order_id))

    assert (claim.verdict, claim.detail, claim.recorded) == ("finished", "ready", ())
    record = ledger.order(order_id)
    assert record is not None
    assert [event.event for event in record.history] == [Kind.CREATED, Kind.READY]


def test_events_of_another_order_are_refused(client: redis.Redis) -> None:
    ledger = Ledger(client, retention=60, recent_limit=100)
    lease = Claims(client).cook_lease(str(uuid.uuid4()), 1, 30)

    with pytest.raises(ValueError, match="another order"):
        lease.claim(3, 60, ledger, first_events(str(uuid.uuid4())))


def cooked_at_once(order_id: str) -> list[OrderEvent]:
    """A dish done before its claim: its received and ready events, claimed together."""
    return [
        make_event(Kind.RECEIVED, order_id, **WHERE),
        make_event(Kind.READY, order_id, percent=100, cook_seconds=0.0, **WHERE),
    ]


def test_a_dish_claimed_with_its_ready_event_leaves_its_result_once(client: redis.Redis) -> None:
    ledger = Ledger(client, retention=60, recent_limit=100)
    claims = Claims(client)
    order_id = str(uuid.uuid4())
    key = f"result:{order_id}"
    result = ResultWrite(key, '{"delivery": ', ', "dish": "Soup"}', expires=60)
    ledger.record(make_event(Kind.CREATED, order_id, table=3, dish="Soup", station="stove"))
    with client.pubsub() as listener:  # type: ignore[no-untyped-call]
        listener.subscribe(key)
        assert listener.get_message(timeout=1) is not None  # the subscription's confirmation

        first = claims.cook_lease(order_id, 1, 30).claim(
            3, 60, ledger, cooked_at_once(order_id), result
        )
        published = listener.get_message(timeout=1)

    assert (first.verdict, first.delivery) == ("cook", 1)
    assert [(step.seq, step.status) for step in first.recorded] == [(2, "received"), (3, "ready")]
    assert client.get(key) == b'{"delivery": 1, "dish": "Soup"}'
    assert 0 < client.ttl(key) <= 60
    assert published is not None and published["data"] == b'{"delivery": 1, "dish": "Soup"}'

    # A redelivery of the same message finds the order ready: nothing is recorded or written.
    client.delete(key)
    again = claims.cook_lease(order_id, 1, 30).claim(
        3, 60, ledger, cooked_at_once(order_id), result
    )
    assert (again.verdict, again.detail, again.recorded) == ("finished", "ready", ())
    assert client.get(key) is None
    record = ledger.order(order_id)
    assert record is not None and record.status == "ready"
    assert [event.event for event in record.history] == [Kind.CREATED, Kind.RECEIVED, Kind.READY]


def test_a_dish_cooked_at_once_after_a_cook_died_counts_the_delivery_in_its_result(
    client: redis.Redis,
) -> None:
    ledger = Ledger(client, retention=60, recent_limit=100)
    claims = Claims(client)
    order_id = str(uuid.uuid4())
    result = ResultWrite(f"result:{order_id}", "[", "]")
    ledger.record(make_event(Kind.CREATED, order_id, table=3, dish="Soup", station="stove"))
    claims.cook_lease(order_id, 1, 30).claim(3, 60, ledger, first_events(order_id))
    client.delete(COOK_LEASE_KEY.format(order_id=order_id))  # the first cook died

    second = claims.cook_lease(order_id, 1, 30).claim(
        3, 60, ledger, cooked_at_once(order_id), result
    )

    assert (second.verdict, second.delivery) == ("cook", 2)
    assert [step.status for step in second.recorded] == ["received", "ready"]
    assert client.get(f"result:{order_id}") == b"[2]"
    assert client.ttl(f"result:{order_id}") == -1  # no expiry asked for
    record = ledger.order(order_id)
    assert record is not None and record.status == "ready"
    assert [(event.event, event.delivery) for event in record.history][-2:] == [
        (Kind.RECEIVED, 2),
        (Kind.READY, 2),
    ]
