"""The waiter's own task messages are the ones Celery's send_task stores, field by field.

Each order is sent twice into a private Redis database: once by the real `app.send_task`
(with the waiter's event dispatcher, as the Celery path sends it) and once by
`waiter.fastpath.send.TaskPusher`; the queued messages, the queue bindings and the `task-sent`
events heard on pub/sub are decoded and compared.
"""

import base64
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from celery import Celery
from celery.utils.saferepr import saferepr

from restaurant.names import PREPARE_DISH
from tools.redis_server import RedisServer
from waiter.fastpath import send as fast_send
from waiter.fastpath import wire
from waiter.firing import event_sender

#: Orders as `Order.as_dict()` gives them, with text that needs escaping in every layer.
ORDERS = [
    {"table": 1, "dish": "Pasta", "note": None, "ordered_at": 1764430000.123456},
    {"table": 42, "dish": "Salad", "note": 'it\'s "no" nuts\\ \n\ttab', "ordered_at": 1.5},
    {"table": 7, "dish": "Crème brûlée", "note": "🍰 ünïcödé {braces} %s", "ordered_at": None},
    {"table": 3, "dish": "Soup", "note": "x" * 200, "ordered_at": 1764430000.0},
]


@pytest.fixture
def url(redis_server: RedisServer) -> Iterator[str]:
    """A database of the suite's Redis that nothing else uses, emptied before and after."""
    where = f"redis://127.0.0.1:{redis_server.port}/13"
    with redis.Redis.from_url(where) as client:
        client.flushdb()
        yield where
        client.flushdb()


@pytest.fixture
def celery_sender(url: str) -> Iterator[Celery]:
    """The waiter's Celery app as it is configured, pointed at the private database."""
    app = Celery("waiter")
    app.config_from_object("celeryconfig")
    app.conf.update(broker_url=url, result_backend=url)
    yield app
    app.close()


def capture(client: redis.Redis, send: Any) -> tuple[dict[str, Any], dict[str, Any], set[str]]:
    """Run `send`; return the one queued message, the one event published, and the keys made."""
    client.flushdb()
    topic = wire.event_topic(13)
    with client.pubsub() as pubsub:  # type: ignore[no-untyped-call]
        pubsub.subscribe(topic)
        confirmed = pubsub.get_message(timeout=5)
        assert confirmed is not None and confirmed["type"] == "subscribe"
        send()
        heard = pubsub.get_message(timeout=5)
        assert heard is not None and heard["channel"] == topic.encode()
        assert pubsub.get_message(timeout=0.2) is None
    keys = {text(key) for key in client.keys("*")}
    [queued] = [key for key in keys if not key.startswith("_kombu")]
    [raw] = client.lrange(queued, 0, -1)
    message = json.loads(raw)
    message["queue"] = queued
    message["bindings"] = {
        key: sorted(text(member) for member in client.smembers(key))
        for key in keys
        if key.startswith("_kombu")
    }
    return message, json.loads(heard["data"]), keys


def text(raw: Any) -> str:
    """A Redis reply as text."""
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def decoded_body(envelope: dict[str, Any]) -> Any:
    """The envelope's body, as the worker reads it."""
    assert envelope["properties"]["body_encoding"] == "base64"
    return json.loads(base64.b64decode(envelope["body"]))


def is_uuid(text: str) -> bool:
    """Whether `text` is a UUID in its usual form."""
    return str(uuid.UUID(text)) == text


@pytest.mark.parametrize("suffix", ["", ".rush"])
@pytest.mark.parametrize("kwargs", ORDERS, ids=["plain", "escapes", "unicode", "long-note"])
def test_the_pushed_message_and_event_are_the_ones_send_task_stores(
    url: str, celery_sender: Celery, kwargs: dict[str, Any], suffix: str
) -> None:
    task_id = str(uuid.uuid4())
    # A queue new to this process: kombu declares a queue once per process, and so does the
    # pusher (once per pusher), so both must be seen declaring it.
    queue = f"grill-{task_id[:8]}{suffix}"
    client = redis.Redis.from_url(url)

    def by_celery() -> None:
        announcer = event_sender(celery_sender, "waiter")
        with celery_sender.producer_or_acquire() as producer:
            celery_sender.send_task(
                PREPARE_DISH,
                kwargs=kwargs,
                task_id=task_id,
                queue=queue,
                producer=producer,
                event_dispatcher=announcer,
            )

    def by_pusher() -> None:
        fast_send.TaskPusher(client, PREPARE_DISH, "waiter").send([(task_id, kwargs, queue)])

    theirs, their_event, their_keys = capture(client, by_celery)
    ours, our_event, our_keys = capture(client, by_pusher)

    # The same keys: the queue and its two binding sets, with the same members.
    assert our_keys == their_keys
    assert ours["queue"] == theirs["queue"] == queue
    assert ours["bindings"] == theirs["bindings"]

    # The envelope: the same fields in the same order, the body byte for byte.
    assert list(ours) == list(theirs)
    assert ours["body"] == theirs["body"]
    assert decoded_body(ours) == [[], kwargs, decoded_body(theirs)[2]]
    assert ours["content-encoding"] == theirs["content-encoding"] == "utf-8"
    assert ours["content-type"] == theirs["content-type"] == "application/json"
    # Every header, in the same order: origin names this process ("gen<pid>@host") both ways.
    assert list(ours["headers"].items()) == list(theirs["headers"].items())
    # Properties: the same, but for two ids that differ by nature. The delivery tag is a new
    # UUID per message; reply_to is Celery's per-app, per-thread id (`app.thread_oid`), which
    # only an RPC result backend would read.
    assert list(ours["properties"]) == list(theirs["properties"])
    for name in ("delivery_tag", "reply_to"):
        assert is_uuid(ours["properties"].pop(name)) and is_uuid(theirs["properties"].pop(name))
    assert ours["properties"] == theirs["properties"]

    # Flower's task-sent event: the same envelope and fields but for the delivery tag, the
    # timestamp (the time each was sent) and the dispatcher's Lamport clock (which counts the
    # events each sender published, so it depends on the sender's past).
    assert list(our_event) == list(their_event)
    assert our_event["headers"] == their_event["headers"] == {"hostname": ours_host()}
    for envelope in (our_event, their_event):
        assert is_uuid(envelope["properties"].pop("delivery_tag"))
    assert our_event["properties"] == their_event["properties"]
    assert {key: our_event[key] for key in ("content-encoding", "content-type")} == {
        key: their_event[key] for key in ("content-encoding", "content-type")
    }
    our_fields, their_fields = decoded_body(our_event), decoded_body(their_event)
    assert list(our_fields) == list(their_fields)
    for fields in (our_fields, their_fields):
        assert abs(fields.pop("timestamp") - time.time()) < 60
        assert isinstance(fields.pop("clock"), int)
    assert our_fields == their_fields
    assert our_fields["uuid"] == task_id and our_fields["queue"] == queue


def ours_host() -> str:
    """The steady name the waiter's events carry."""
    import socket

    return f"waiter@{socket.gethostname()}"


def test_one_transaction_carries_a_batch_and_counts_the_clock(url: str) -> None:
    client = redis.Redis.from_url(url)
    pusher = fast_send.TaskPusher(client, PREPARE_DISH, "waiter")
    batch = [(str(uuid.uuid4()), ORDERS[0], "pasta") for _ in range(3)]
    pusher.send(batch)
    pusher.send(batch[:1])
    # LPUSH: the first sent is the first a cook's BRPOP takes.
    queued = [json.loads(raw)["headers"]["id"] for raw in client.lrange("pasta", 0, -1)]
    assert queued[::-1] == [task_id for task_id, _, _ in [*batch, batch[0]]]
    assert pusher.clock == 4


@pytest.mark.parametrize(
    "kwargs",
    [
        *ORDERS,
        {"a": "word " * 300},
        {"note": "x" * 2000, "b": 1},
        {"first": "y" * 1010, "second": "after the cut"},
        {"k" * 1030: None},
        {"n": 12345678901234567890, "f": -0.0, "t": True, "z": None, "s": ""},
    ],
)
def test_kwargs_repr_is_celerys_saferepr(kwargs: dict[str, Any]) -> None:
    assert wire.kwargs_repr(kwargs) == saferepr(kwargs, 1024, maxlevels=3)


def test_only_a_plain_redis_or_sentinel_broker_skips_celery(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert fast_send.applies("redis://127.0.0.1:6379/0")
    # The master Sentinel names stores messages as any Redis does.
    assert fast_send.applies("sentinel://127.0.0.1:26379/0;sentinel://127.0.0.1:26380/0")
    assert not fast_send.applies("amqp://guest:guest@127.0.0.1:5672//")
    assert not fast_send.applies("rediss://127.0.0.1:6380/0")
    monkeypatch.setenv(fast_send.VIA_CELERY, "1")
    assert not fast_send.applies("redis://127.0.0.1:6379/0")


def test_placing_an_order_on_redis_imports_no_celery(url: str) -> None:
    code = (
        "import sys;"
        "sys.argv = ['waiter', 'order', '--table', '1', '--dish', 'Pasta'];"
        "from waiter.cli import main\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('celery', 'kombu'));"
        "print(loaded, file=sys.stderr)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "REDIS_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Order for table 1 created: ")
    assert result.stderr.strip() == "[]"
    with redis.Redis.from_url(url) as client:
        assert client.llen("pasta") == 1
