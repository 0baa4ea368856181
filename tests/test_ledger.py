"""The ledger on a real Redis: forward-only, published with each change, bounded."""

import random
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from restaurant.dead_letters import DeadLetters
from restaurant.events import Kind, OrderEvent, describe, make_event, parse_event
from restaurant.ledger import HISTORY_LIMIT, Ledger
from tools.redis_server import RedisServer


@pytest.fixture
def client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """Database 7, emptied before each test."""
    with redis.Redis.from_url(f"redis://127.0.0.1:{redis_server.port}/7") as connection:
        connection.flushdb()
        yield connection


def life_of_a_burger(order_id: str) -> list[OrderEvent]:
    """A dish retried once and then ready, step by step, as the kitchen would tell it."""
    at = {"table": 4, "dish": "Burger", "station": "grill", "worker": "chef1@host"}
    steps = [
        make_event(Kind.CREATED, order_id, table=4, dish="Burger", station="grill"),
        make_event(Kind.RECEIVED, order_id, attempt=1, **at),
        make_event(Kind.PREPARING, order_id, attempt=1, percent=0, **at),
        make_event(Kind.RETRYING, order_id, attempt=1, reason="busy", retry_in=0.1, **at),
        make_event(Kind.RECEIVED, order_id, attempt=2, **at),
        make_event(Kind.PREPARING, order_id, attempt=2, percent=0, **at),
        make_event(Kind.PROGRESS, order_id, attempt=2, percent=25, **at),
        make_event(Kind.PROGRESS, order_id, attempt=2, percent=50, **at),
        make_event(Kind.PROGRESS, order_id, attempt=2, percent=75, **at),
        make_event(Kind.READY, order_id, attempt=2, percent=100, cook_seconds=4.2, **at),
    ]
    return steps


def heard(pubsub: redis.client.PubSub) -> list[OrderEvent]:
    events = []
    while (message := pubsub.get_message(timeout=0.3)) is not None:
        if message["type"] == "message":
            events.append(parse_event(message["data"]))
    return events


def test_each_step_is_applied_and_published_once(client: redis.Redis) -> None:
    ledger = Ledger(client, retention=60, recent_limit=100)
    order_id = str(uuid.uuid4())
    with client.pubsub() as pubsub:  # type: ignore[no-untyped-call]
        pubsub.subscribe(ledger.channel(table=4))
        steps = life_of_a_burger(order_id)

        recorded = [ledger.record(step) for step in steps]

        published = heard(pubsub)
    assert [r.seq for r in recorded] == list(range(1, len(steps) + 1))
    assert [e.event for e in published] == [s.event for s in steps]
    record = ledger.order(order_id)
    assert record is not None
    assert record.history == published
    assert (record.status, record.attempt, record.worker, record.percent) == (
        "ready",
        2,
        "chef1@host",
        100,
    )


def test_replayed_and_late_events_change_nothing_and_are_not_published(
    client: redis.Redis,
) -> None:
    ledger = Ledger(client, retention=60, recent_limit=100)
    order_id = str(uuid.uuid4())
    steps = life_of_a_burger(order_id)
    for step in steps[:8]:  # up to 50 % of the second attempt
        ledger.record(step)
    before = ledger.order(order_id)

    with client.pubsub() as pubsub:  # type: ignore[no-untyped-call]
        pubsub.subscribe(ledger.channel())
        shuffled = steps[:8]
        random.Random(3).shuffle(shuffled)
        results = [ledger.record(step) for step in shuffled]
        assert heard(pubsub) == []

    assert not any(result.applied for result in results)
    assert {result.status for result in results} == {"preparing"}
    assert ledger.order(order_id) == before


def test_a_finished_order_never_moves_again(client: redis.Redis) -> None:
    ledger = Ledger(client, retention=60, recent_limit=100)
    order_id = str(uuid.uuid4())
    for step in life_of_a_burger(order_id):
        ledger.record(step)

    late = [
        make_event(Kind.PREPARING, order_id, attempt=3, percent=0),
        make_event(Kind.FAILED, order_id, attempt=9, reason="too late"),
        make_event(Kind.CANCELLED, order_id),
        make_event(Kind.READY, order_id, attempt=2, percent=100),
    ]
    assert [ledger.record(event).status for event in late] == ["ready"] * 4
    record = ledger.order(order_id)
    assert record is not None and record.status == "ready" and record.seq == 10


def test_cancelling_an_unknown_order_creates_nothing(client: redis.Redis) -> None:
    ledger = Ledger(client, retention=60, recent_limit=100)

    result = ledger.record(make_event(Kind.CANCELLED, str(uuid.uuid4())))

    assert (result.applied, result.status) == (False, "")
    assert client.dbsize() == 0


def test_finished_orders_expire_open_ones_stay_and_indexes_follow(client: redis.Redis) -> None:
    ledger = Ledger(client, retention=1, recent_limit=100)
    done, waiting = str(uuid.uuid4()), str(uuid.uuid4())
    for step in life_of_a_burger(done):
        ledger.record(step)
    ledger.record(make_event(Kind.CREATED, waiting, table=4, dish="Soup"))
    assert [r.order_id for r in ledger.orders(table=4, open_only=True)] == [waiting]
    assert {r.order_id for r in ledger.orders()} == {done, waiting}

    time.sleep(1.6)
    # Reads leave out what has expired; the next new order trims the recent index too.
    ledger.record(make_event(Kind.RECEIVED, waiting, attempt=1, worker="chef1@host"))
    assert client.zscore("restaurant:recent", done) is not None
    ledger.record(make_event(Kind.CREATED, str(uuid.uuid4()), table=5, dish="Soup"))
    assert client.zscore("restaurant:recent", done) is None

    assert ledger.order(done) is None
    assert client.exists(f"restaurant:order:{done}:history") == 0
    assert [r.order_id for r in ledger.orders(table=4)] == [waiting]
    assert client.ttl(f"restaurant:order:{waiting}") == -1
    assert [r.order_id for r in ledger.orders(table=4, open_only=True)] == [waiting]


def test_history_and_recent_index_are_capped(client: redis.Redis) -> None:
    ledger = Ledger(client, retention=600, recent_limit=5)
    order_id = str(uuid.uuid4())
    ledger.record(make_event(Kind.CREATED, order_id, table=1, dish="Soup"))
    for percent in range(1, HISTORY_LIMIT + 50):
        ledger.record(make_event(Kind.PROGRESS, order_id, attempt=1, percent=percent % 100))
    for _ in range(10):
        ledger.record(make_event(Kind.CREATED, str(uuid.uuid4()), table=2, dish="Soup"))

    assert client.llen(f"restaurant:order:{order_id}:history") <= HISTORY_LIMIT
    assert client.zcard("restaurant:recent") == 5


def test_channels_carry_the_database_number(client: redis.Redis) -> None:
    ledger = Ledger(client, retention=60, recent_limit=100)

    assert ledger.channel() == "restaurant:7:events:all"
    assert ledger.channel(table=3) == "restaurant:7:events:table:3"
    assert ledger.channel(order_id="x") == "restaurant:7:events:order:x"


def test_rank_orders_steps_within_and_across_attempts() -> None:
    steps = life_of_a_burger(str(uuid.uuid4()))

    ranks = [step.rank for step in steps]

    assert ranks == sorted(ranks) and len(set(ranks)) == len(ranks)
    assert make_event(Kind.FAILED, "x", attempt=1).rank == steps[-1].rank  # final is final


def test_describe_says_what_happened_in_one_line() -> None:
    event = make_event(
        Kind.RETRYING,
        "abc",
        table=4,
        dish="Burger",
        attempt=1,
        worker="chef1@host",
        reason="the grill station is busy",
        retry_in=1.5,
    )

    line = describe(event)

    assert "\n" not in line
    assert line.endswith(
        "abc  Burger for table 4: trouble: the grill station is busy; trying again in 1.50 s"
        "  [attempt 1, chef1@host]"
    )


def test_failed_orders_are_filed_as_dead_letters_newest_kept(client: redis.Redis) -> None:
    ledger = Ledger(client, retention=600, recent_limit=100, dead_letter_limit=3)
    ids = [str(uuid.uuid4()) for _ in range(5)]
    for number, order_id in enumerate(ids):
        ledger.record(make_event(Kind.CREATED, order_id, table=1, dish="Soup", note="hot"))
        ledger.record(
            make_event(
                Kind.FAILED,
                order_id,
                attempt=2,
                reason="gave up",
                error="busy",
                time=100.0 + number,
            )
        )

    letters = DeadLetters(client).newest(10)
    assert [letter.order_id for letter in letters] == ids[2:]
    assert (letters[0].dish, letters[0].note, letters[0].reason, letters[0].error) == (
        "Soup",
        "hot",
        "gave up",
        "busy",
    )
    assert client.hlen("restaurant:dead:letters") == 3


def test_only_a_failed_order_can_be_requeued_and_only_once(client: redis.Redis) -> None:
    ledger = Ledger(client, retention=600, recent_limit=100)
    order_id = str(uuid.uuid4())
    ledger.record(make_event(Kind.CREATED, order_id, table=1, dish="Soup"))
    requeue = make_event(Kind.REQUEUED, order_id, attempt=2)
    assert not ledger.record(requeue).applied  # pending, not failed

    ledger.record(make_event(Kind.FAILED, order_id, attempt=1, reason="gave up"))
    first, second = ledger.record(requeue), ledger.record(requeue)

    assert first.applied and first.status == "pending"
    assert not second.applied
    assert DeadLetters(client).get(order_id) is None
    assert ledger.record(make_event(Kind.RECEIVED, order_id, attempt=2, delivery=1)).applied
    assert client.hget(f"restaurant:order:{order_id}", "first_attempt") == b"2"


def test_events_sent_together_survive_a_server_that_lost_its_scripts(client: redis.Redis) -> None:
    ledger = Ledger(client, retention=60, recent_limit=100)
    order_id = str(uuid.uuid4())
    first, *rest = life_of_a_burger(order_id)
    ledger.record(first)  # the script is loaded now
    client.script_flush()  # as after a restart without persistence of scripts

    together = ledger.record_many(rest[:3])
    client.script_flush()
    with_result = ledger.record_along(rest[3], lambda pipe: pipe.set(f"result:{order_id}", "1"))
    mixed = ledger.record_many([rest[3], rest[4]], raise_on_error=False)

    assert [step.seq for step in together] == [2, 3, 4]
    assert with_result.seq == 5 and client.get(f"result:{order_id}") == b"1"
    # The repeated event changes nothing; the new one is applied.
    assert [getattr(step, "seq", None) for step in mixed] == [0, 6]
    record = ledger.order(order_id)
    assert record is not None
    assert [event.seq for event in record.history] == [1, 2, 3, 4, 5, 6]


def test_an_error_among_events_sent_together_is_returned_in_its_place(client: redis.Redis) -> None:
    ledger = Ledger(client, retention=60, recent_limit=100)
    good, bad = str(uuid.uuid4()), str(uuid.uuid4())
    client.set(f"restaurant:order:{bad}", "not a hash")
    events = [make_event(Kind.CREATED, order_id, table=2, dish="Soup") for order_id in (good, bad)]

    replies = ledger.record_many(events, raise_on_error=False)

    assert getattr(replies[0], "seq", None) == 1
    assert isinstance(replies[1], redis.ResponseError) and "WRONGTYPE" in str(replies[1])
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        ledger.record_many([make_event(Kind.CREATED, bad, table=2, dish="Soup")])
