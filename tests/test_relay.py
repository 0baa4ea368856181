"""Pipelines run one at a time in the background: replies in order, nothing sent after an error."""

from typing import Any

import pytest
import redis
from redis.client import Pipeline

from tools.redis_server import RedisServer
from waiter.fastpath.relay import overlapped


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


def test_a_server_that_lost_the_scripts_runs_each_command_once(client: redis.Redis) -> None:
    script = client.register_script("return redis.call('RPUSH', KEYS[1], ARGV[1])")
    script(keys=["sent"], args=["loaded"])
    client.delete("sent")
    replies: list[list[Any]] = []
    for transaction in (False, True):
        client.script_flush()  # as after a restart that kept the data but not the scripts
        pipe = client.pipeline(transaction=transaction)
        pipe.rpush("sent", f"before {transaction}")
        script(keys=["sent"], args=[f"script {transaction}"], client=pipe)
        pipe.rpush("sent", f"after {transaction}")
        replies.extend(overlapped([pipe], [script]))

    assert replies == [[1, 3, 2], [4, 6, 5]]
    # The refused script ran again once loaded; the commands around it ran once.
    assert client.lrange("sent", 0, -1) == [
        b"before False", b"after False", b"script False",
        b"before True", b"after True", b"script True",
    ]  # fmt: skip
