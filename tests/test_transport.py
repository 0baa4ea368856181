"""The kitchen's Redis transport on a real Redis: bulk taking keeps kombu's delivery promises."""

import json

import pytest
import redis
from kombu.connection import Connection
from kombu.entity import Exchange, Queue
from kombu.message import Message
from kombu.messaging import Consumer, Producer

from kitchen.transport import _TAKE_MORE as TAKE_MORE
from kitchen.transport import Transport
from tests.conftest import empty_database
from tests.redis_monitor import Monitor
from tools.redis_server import RedisServer

QUEUE = Queue("dishes", Exchange("dishes", type="direct"), routing_key="dishes")


@pytest.fixture
def url(redis_server: RedisServer) -> str:
    """Database 9, emptied before each test."""
    return empty_database(redis_server, 9)


def publish(url: str, bodies: list[str]) -> None:
    with Connection(url, transport=Transport) as connection:
        producer = Producer(connection)
        for body in bodies:
            producer.publish(body, exchange=QUEUE.exchange, routing_key="dishes", declare=[QUEUE])


def receive(connection: Connection, prefetch: int, rounds: int) -> list[Message]:
    """What a consumer holding `prefetch` messages at most gets from `rounds` receives."""
    got: list[Message] = []
    consumer = Consumer(connection, [QUEUE], callbacks=[lambda _, message: got.append(message)])
    consumer.qos(prefetch_count=prefetch)
    consumer.consume()
    for _ in range(rounds):
        connection.drain_events(timeout=2)
    return got


def test_one_receive_takes_as_many_as_the_prefetch_allows(url: str) -> None:
    publish(url, [f"dish {number}" for number in range(10)])
    client = redis.Redis.from_url(url)

    with Connection(url, transport=Transport) as connection:
        got = receive(connection, prefetch=4, rounds=1)
        # One BRPOP and one script: four messages, in the order sent, all recorded in Redis.
        assert [message.payload for message in got] == [f"dish {n}" for n in range(4)]
        assert client.llen("dishes") == 6
        assert client.hlen("unacked") == 4 and client.zcard("unacked_index") == 4
        recorded = json.loads(client.hget("unacked", got[1].delivery_tag) or b"")
        assert recorded[0]["properties"]["delivery_tag"] == got[1].delivery_tag
        assert recorded[1:] == ["dishes", "dishes"]

        for message in got:
            message.ack()
        assert client.hlen("unacked") == 0 and client.zcard("unacked_index") == 0


def test_messages_taken_but_not_acknowledged_go_back_to_their_queue(url: str) -> None:
    publish(url, [f"dish {number}" for number in range(5)])
    client = redis.Redis.from_url(url)

    with Connection(url, transport=Transport) as connection:
        got = receive(connection, prefetch=3, rounds=1)
        got[0].ack()
        assert len(got) == 3
    # Closing the channel restores what was delivered and not acknowledged, as kombu does.
    with Connection(url, transport=Transport) as connection:
        again = receive(connection, prefetch=10, rounds=1)
        for message in again:
            message.ack()
    assert sorted(message.payload for message in again) == ["dish 1", "dish 2", "dish 3", "dish 4"]
    assert client.llen("dishes") == 0


def test_something_not_from_kombu_is_left_for_kombu_to_refuse(url: str) -> None:
    publish(url, ["dish 0"])
    client = redis.Redis.from_url(url)
    client.lpush("dishes", "not a message")
    publish(url, ["dish 1"])

    with Connection(url, transport=Transport) as connection:
        got = receive(connection, prefetch=10, rounds=1)
        # Taking stopped at the stranger, which is back at the head of the queue, untouched.
        assert [message.payload for message in got] == ["dish 0"]
        assert client.llen("dishes") == 2
        assert client.lindex("dishes", -1) == b"not a message"
        assert client.hlen("unacked") == 1


@pytest.mark.parametrize("prefetch", [1, 4])
def test_a_receive_records_its_message_and_takes_more_in_one_round_trip(
    url: str, prefetch: int
) -> None:
    publish(url, [f"dish {number}" for number in range(6)])
    client = redis.Redis.from_url(url)
    client.script_load(TAKE_MORE)  # loaded already, as after the first receive

    with Connection(url, transport=Transport) as connection:
        connection.default_channel  # noqa: B018  (connected before listening)
        with Monitor(url, db=9) as monitor:
            got = receive(connection, prefetch=prefetch, rounds=1)
        # kombu would BRPOP, then MULTI ZADD HSET EXEC for the message and BRPOP again.
        after = monitor.commands[monitor.commands.index("BRPOP") :]
        assert after[:2] == ["BRPOP", "EVALSHA"]
        assert not {"MULTI", "ZADD", "HSET", "EXEC"} & set(after)
        assert len(got) == prefetch
        assert client.hlen("unacked") == prefetch == client.zcard("unacked_index")
        recorded = {
            tag if isinstance(tag, str) else tag.decode() for tag in client.hkeys("unacked")
        }
        assert {message.delivery_tag for message in got} == recorded
        for message in got:
            message.ack()
    assert client.hlen("unacked") == 0 and client.llen("dishes") == 6 - prefetch
