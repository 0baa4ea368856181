"""Pipelines run one at a time in the background: replies in order, nothing sent after an error."""

import pytest
import redis
from redis.client import Pipeline

from tools.redis_server import RedisServer
from waiter.relay import overlapped


@pytest.fixture
def client(redis_server: RedisServer) -> redis.Redis:
    """A client on a database of its own, emptied first."""
    found = redis.Redis.from_url(f"redis://127.0.0.1:{redis_server.port}/12")
    found.flushdb()
    return found


def test_replies_come_in_order(client: redis.Redis) -> None:
    def pipelines() -> list[Pipeline]:
        made = []
        for number in range(5):
            pipe = client.pipeline(transaction=False)
            pipe.rpush("numbers", number)
            made.append(pipe)
        return made

    replies = list(overlapped(pipelines()))
    assert replies == [[1], [2], [3], [4], [5]]
    assert client.lrange("numbers", 0, -1) == [b"0", b"1", b"2", b"3", b"4"]


def test_nothing_is_sent_after_an_error(client: redis.Redis) -> None:
    client.set("text", "not a list")
    first, broken, last = (client.pipeline(transaction=False) for _ in range(3))
    first.rpush("sent", 1)
    broken.rpush("text", 2)
    last.rpush("sent", 3)

    with pytest.raises(redis.ResponseError):
        list(overlapped([first, broken, last]))
    assert client.lrange("sent", 0, -1) == [b"1"]


def test_a_caller_that_stops_early_sends_nothing_more(client: redis.Redis) -> None:
    pipes = [client.pipeline(transaction=False) for _ in range(3)]
    for number, pipe in enumerate(pipes):
        pipe.rpush("sent", number)

    relayed = overlapped(pipes)
    assert next(relayed) == [1]
    relayed.close()
    assert client.lrange("sent", 0, -1) == [b"0"]
