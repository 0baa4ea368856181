"""Placing orders: each message reaches its queue once, in the ledger's own round trip."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from restaurant.menu import load_menu
from restaurant.names import HISTORY_KEY
from tests.conftest import CREATED, TEST_KITCHEN, run_waiter
from tests.redis_monitor import Monitor
from tools.redis_server import RedisServer
from waiter.fastpath.send import PUSH_RECORDED

DB = 3


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of this test's own: what scripts it holds is up to the test."""
    with RedisServer(None, tmp_path) as running:
        yield running


def _url(server: RedisServer) -> str:
    return f"redis://127.0.0.1:{server.port}/{DB}"


def _place(server: RedisServer, *args: str) -> list[str]:
    """Run `waiter order` (no worker listens); return the ids it created."""
    result = run_waiter({**TEST_KITCHEN, "REDIS_URL": _url(server)}, "order", *args)
    assert result.returncode == 0, result.stderr
    return [match.group(2) for match in CREATED.finditer(result.stdout)]


def _queued(client: redis.Redis, dish: str) -> list[str]:
    """The task ids queued for `dish`'s station, the first sent first."""
    messages = client.lrange(load_menu()[dish].station, 0, -1)
    return [json.loads(message)["headers"]["id"] for message in reversed(messages)]


def _events(client: redis.Redis, order_id: str) -> list[str]:
    history = client.lrange(HISTORY_KEY.format(order_id=order_id), 0, -1)
    return [json.loads(event)["event"] for event in history]


@pytest.mark.parametrize("loaded", ["no script", "the push's alone", "every script"])
def test_each_order_reaches_its_queue_once_whatever_scripts_redis_holds(
    server: RedisServer, loaded: str
) -> None:
    client = redis.Redis.from_url(_url(server))
    if loaded == "the push's alone":
        # The push then runs before the ledger's script is loaded again: it finds no order
        # in the ledger, pushes nothing, and the waiter pushes once the ledger has them.
        client.script_load(PUSH_RECORDED)
    elif loaded == "every script":
        _place(server, "--table", "9", "--dish", "Pasta")
        client.flushdb()

    first = _place(server, "--table", "1", "--dish", "Pasta", "--dish", "Pasta")
    second = _place(server, "--table", "2", "--dish", "Salad")

    assert len(first) == 2 and len(second) == 1
    assert _queued(client, "Pasta") == first
    assert _queued(client, "Salad") == second
    for order_id in first + second:
        assert _events(client, order_id) == ["created"]


def test_the_message_goes_behind_its_order_in_the_ledger_in_one_pipeline(
    server: RedisServer,
) -> None:
    client = redis.Redis.from_url(_url(server))
    _place(server, "--table", "9", "--dish", "Pasta")  # every script loaded, the queue declared

    with Monitor(_url(server), db=DB) as monitor:
        [order_id] = _place(server, "--table", "1", "--dish", "Pasta")

    # No transaction of its own, no LPUSH from the waiter: the push script pushes, after the
    # ledger's script has recorded the order (its event log entry, then the message).
    assert not {"MULTI", "EXEC", "LPUSH"} & set(monitor.commands)
    by_scripts = [name for name, by_script in monitor.heard if by_script]
    assert by_scripts.index("XADD") < by_scripts.index("EXISTS") < by_scripts.index("LPUSH")
    assert _queued(client, "Pasta")[-1] == order_id
