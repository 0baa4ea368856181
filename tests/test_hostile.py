"""Hostile input: pickles, forged task messages, hostile command lines, a Redis that never answers.

What the other suites leave out: a pickle on a kitchen queue or planted where the waiter reads,
forged `prepare_dish` messages followed to their dead letters, terminal escapes, NUL and
megabytes on the command line and in batch files, Unicode through the kitchen and back, and a
real Redis paused with CLIENT PAUSE.
"""

import base64
import importlib
import json
import pickle
import queue
import re
import signal
import subprocess
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery
from kombu.connection import Connection
from kombu.exceptions import ContentDisallowed, DecodeError
from kombu.messaging import Producer
from kombu.serialization import loads

import celeryconfig
from restaurant.events import Kind, make_event
from restaurant.ledger import Ledger
from tests.conftest import TEST_KITCHEN, WAITER, created_ids, run_waiter
from tests.watching import wait_until_subscribed
from tools.redis_server import RedisServer, answers
from tools.worker import KitchenWorker

pytestmark = pytest.mark.e2e

SHIPPED_MENU = Path(__file__).resolve().parent.parent / "restaurant" / "menu.toml"

#: Dishes whose names are valid Unicode of every awkward kind, cooked at the cold station.
UNICODE_DISHES = [
    "Crème brûlée",  # accents (precomposed)
    "Cafe\u0301 au lait",  # a combining acute accent, kept as typed
    "拉麵",  # CJK
    "Pizza 🍕",  # an emoji outside the BMP
    "שקשוקה",  # right-to-left
]

#: The refusal kombu gives a pickle when only JSON is accepted.
REFUSED_PICKLE = "Refusing to deserialize untrusted content of type pickle"


class Opener:
    """A pickle that creates a file when it is loaded (never anything worse)."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.path, "w"))


@dataclass
class Kitchen:
    """This module's own worker, on its own database, with a menu that has Unicode dishes."""

    env: dict[str, str]
    worker: KitchenWorker

    @property
    def url(self) -> str:
        return self.env["REDIS_URL"]

    def waiter(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_waiter(self.env, *args, stdin=stdin)

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, decode_responses=True)

    def status(self, order_id: str) -> dict[str, Any]:
        result = self.waiter("status", order_id, "--json")
        assert result.returncode == 0, result.stderr
        record: dict[str, Any] = json.loads(result.stdout)
        return record

    def wait_final(self, order_ids: list[str], timeout: float = 60) -> dict[str, str]:
        """Poll the ledger until every order is ready, failed or cancelled."""
        deadline = time.monotonic() + timeout
        with self.client() as client:
            while True:
                statuses = {
                    order_id: str(client.hget(f"restaurant:order:{order_id}", "status"))
                    for order_id in order_ids
                }
                if all(s in ("ready", "failed", "cancelled") for s in statuses.values()):
                    return statuses
                assert time.monotonic() < deadline, f"not finished: {statuses}"
                time.sleep(0.05)

    def serves_a_good_order(self) -> None:
        """The control after every hostile message: a normal order is cooked."""
        assert self.worker.alive()
        result = self.waiter("order", "-t", "5", "-d", "Salad", "--wait", "--timeout", "60")
        assert result.returncode == 0, result.stdout + result.stderr
        assert " is ready after " in result.stdout


@pytest.fixture(scope="module")
def kitchen(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Kitchen]:
    folder = tmp_path_factory.mktemp("hostile")
    menu = folder / "menu.toml"
    extra = "".join(
        f"\n[dishes.{json.dumps(name, ensure_ascii=False)}]\n"
        'station = "cold"\ncook_seconds = [1.0, 2.0]\nsoft_limit = 8\nhard_limit = 12\n'
        for name in UNICODE_DISHES
    )
    menu.write_text(SHIPPED_MENU.read_text(encoding="utf-8") + extra, encoding="utf-8")
    url = f"redis://127.0.0.1:{redis_server.port}/11"
    with redis.Redis.from_url(url) as client:
        client.flushdb()
    env = {**TEST_KITCHEN, "REDIS_URL": url, "KITCHEN_MENU": str(menu)}
    with KitchenWorker(env, folder / "worker.log", concurrency=2, name="hostile") as worker:
        yield Kitchen(env, worker)


@pytest.fixture
def sender(kitchen: Kitchen, monkeypatch: pytest.MonkeyPatch) -> Iterator[Celery]:
    """A Celery client on the kitchen's database that sends whatever it is given."""
    with monkeypatch.context() as patch:
        patch.setenv("REDIS_URL", kitchen.url)
        app = Celery("hostile-sender")
        app.config_from_object(importlib.reload(celeryconfig))
        yield app
        app.close()
    importlib.reload(celeryconfig)


def log_entry(log: str, needle: str) -> str:
    """The entry of a worker log (a line with its continuation lines) that mentions `needle`."""
    entries = [entry for entry in re.split(r"\n(?=\[\d{4}-)", log) if needle in entry]
    assert len(entries) == 1, f"{len(entries)} log entries mention {needle!r}"
    return entries[0]


def wait_until_drained(kitchen: Kitchen, queue: str, timeout: float = 30) -> None:
    """Wait until `queue` is empty and no message is held unacknowledged."""
    deadline = time.monotonic() + timeout
    with kitchen.client() as client:
        while client.llen(queue) or client.hlen("unacked"):
            assert time.monotonic() < deadline, f"{queue} not drained after {timeout} s"
            time.sleep(0.05)


def one_clean_line(stderr: str) -> None:
    """One line, no traceback, and no control character (no ESC, no NUL) in it."""
    assert stderr.endswith("\n") and stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr
    assert not [c for c in stderr[:-1] if unicodedata.category(c).startswith("C")], repr(stderr)


# --- 7. Pickles: on a kitchen queue, and planted where the waiter reads ----------------------


def pickle_by_producer(kitchen: Kitchen, canary: Path) -> None:
    """A task message as Celery would send it (protocol 2), but pickled."""
    headers = {"task": "kitchen.prepare_dish", "id": str(uuid.uuid4()), "lang": "py"}
    with Connection(kitchen.url) as connection:  # type: ignore[no-untyped-call]
        producer = Producer(connection)  # type: ignore[no-untyped-call]
        producer.publish(  # type: ignore[no-untyped-call]
            ((Opener(canary),), {}, {}),
            routing_key="cold",
            serializer="pickle",
            headers=headers,
        )


def pickle_in_envelope(kitchen: Kitchen, canary: Path, with_task_header: bool) -> None:
    """A raw message in kombu's Redis envelope, pushed straight onto the station's list."""
    if with_task_header:
        headers = {"task": "kitchen.prepare_dish", "id": str(uuid.uuid4())}
        body = pickle.dumps(((Opener(canary),), {}, {}))
    else:  # protocol 1: everything in the (pickled) body
        headers = {}
        body = pickle.dumps(
            {"task": "kitchen.prepare_dish", "id": str(uuid.uuid4()), "args": [Opener(canary)]}
        )
    envelope = {
        "body": base64.b64encode(body).decode(),
        "content-encoding": "binary",
        "content-type": "application/x-python-serialize",
        "headers": headers,
        "properties": {
            "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
            "delivery_info": {"exchange": "", "routing_key": "cold"},
            "priority": 0,
            "delivery_mode": 2,
        },
    }
    with kitchen.client() as client:
        client.lpush("cold", json.dumps(envelope))


PUSHERS: dict[str, Callable[[Kitchen, Path], None]] = {
    "kombu-producer": pickle_by_producer,
    "envelope-with-task-header": lambda k, p: pickle_in_envelope(k, p, with_task_header=True),
    "envelope-protocol-1": lambda k, p: pickle_in_envelope(k, p, with_task_header=False),
}


@pytest.mark.parametrize("how", list(PUSHERS))
def test_a_pickled_message_on_a_station_queue_is_refused(
    kitchen: Kitchen, tmp_path: Path, how: str
) -> None:
    canary = tmp_path / "created-by-unpickling"

    PUSHERS[how](kitchen, canary)

    log = kitchen.worker.wait_for_log(str(canary))
    entry = log_entry(log, str(canary))
    assert f"{REFUSED_PICKLE} (application/x-python-serialize)" in entry
    wait_until_drained(kitchen, "cold")
    assert not canary.exists()
    kitchen.serves_a_good_order()
    assert not canary.exists()
    assert kitchen.worker.log().count(str(canary)) == 1  # refused once, never redelivered


@pytest.fixture
def cooked_order(kitchen: Kitchen) -> Iterator[str]:
    """A real order, cooked; its keys are removed afterwards (they will have been tampered with)."""
    result = kitchen.waiter("order", "-t", "6", "-d", "Salad", "--note", "no onions", "--wait")
    assert result.returncode == 0, result.stdout + result.stderr
    [order_id] = created_ids(result.stdout)
    yield order_id
    with kitchen.client() as client:
        client.delete(
            f"celery-task-meta-{order_id}",
            f"restaurant:order:{order_id}",
            f"restaurant:order:{order_id}:history",
        )
        client.zrem("restaurant:recent", order_id)


def test_pickles_planted_where_the_waiter_reads_are_never_loaded(
    kitchen: Kitchen, cooked_order: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    order_id = cooked_order
    canary = tmp_path / "created-by-unpickling"
    binary = pickle.dumps(Opener(canary))
    text = pickle.dumps(Opener(canary), protocol=0)  # ASCII only: decodes as text
    before = kitchen.status(order_id)
    assert before["status"] == "ready"
    with kitchen.client() as client:
        client.set(f"celery-task-meta-{order_id}", binary)
        history = f"restaurant:order:{order_id}:history"
        client.rpush(history, binary)
        client.lset(history, 1, text)
        client.hset(f"restaurant:order:{order_id}", mapping={"note": binary, "reason": text})

    shown = kitchen.waiter("status", order_id)
    as_json = kitchen.waiter("status", order_id, "--json")
    listed = kitchen.waiter("orders")
    listed_json = kitchen.waiter("orders", "--json")

    for result in (shown, as_json, listed, listed_json):
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
    assert "status:   ready" in shown.stdout
    record = json.loads(as_json.stdout)
    assert (record["order_id"], record["status"], record["dish"]) == (order_id, "ready", "Salad")
    # The two planted entries are left out; the real events are all there.
    assert len(record["history"]) == len(before["history"]) - 1
    assert record["history"][-1]["event"] == "ready"
    assert order_id in listed.stdout
    assert order_id in [item["order_id"] for item in json.loads(listed_json.stdout)]

    # A pickle published on the order's channel while someone watches it is skipped too.
    with Watching(kitchen, order_id) as watching:
        with kitchen.client() as client:
            channel = f"restaurant:{Ledger(client, 60, 10).db}:events:order:{order_id}"
            client.publish(channel, binary)
            client.publish(channel, text)
            marker = make_event(Kind.PROGRESS, order_id, table=6, dish="Salad", percent=42, seq=99)
            client.publish(channel, marker.to_json())
        out, err, code = watching.stop_after(f"{order_id}  Salad for table 6: 42% cooked")
    assert code == 0, err
    assert err == ""
    assert out.count("\n") == 1

    # The waiter's own Celery app refuses the planted result rather than unpickling it.
    with monkeypatch.context() as patch:
        patch.setenv("REDIS_URL", kitchen.url)
        importlib.reload(celeryconfig)
        from waiter.client import celery_app

        celery_app.cache_clear()
        try:
            app = celery_app()
            result = app.AsyncResult(order_id)
            with pytest.raises((ContentDisallowed, DecodeError)):
                result.get(timeout=10)
            # Let go of the result while Redis is there (its __del__ would do it later).
            app.backend.remove_pending_result(result)
            app.backend.result_consumer.stop()
            del result
            # And its backend would refuse a pickle even if the payload said it was one.
            with pytest.raises(ContentDisallowed):
                loads(  # type: ignore[no-untyped-call]
                    binary, "application/x-python-serialize", "binary", accept=app.backend.accept
                )
        finally:
            celery_app().close()
            celery_app.cache_clear()
    importlib.reload(celeryconfig)

    assert not canary.exists()
    assert list(tmp_path.iterdir()) == []


class Watching:
    """`waiter watch --order ID` (plain lines) in the background, stopped with Ctrl-C."""

    def __init__(self, kitchen: Kitchen, order_id: str) -> None:
        self.kitchen = kitchen
        self.process = subprocess.Popen(
            [WAITER, "watch", "--order", order_id],
            env={**kitchen.worker.env, **kitchen.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def __enter__(self) -> "Watching":
        wait_until_subscribed(self.process, self.kitchen.url, timeout=30)
        return self

    def stop_after(self, expected: str, timeout: float = 30) -> tuple[str, str, int]:
        """Wait for a line containing `expected`, then press Ctrl-C; return out, err, code."""
        deadline = time.monotonic() + timeout
        out: list[str] = []
        while not any(expected in line for line in out):
            try:
                out.append(self.lines.get(timeout=max(0.1, deadline - time.monotonic())))
            except queue.Empty:
                raise AssertionError(f"{expected!r} not printed: {out}") from None
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=30)
        self.reader.join(timeout=10)
        while not self.lines.empty():
            out.append(self.lines.get())
        assert self.process.stderr is not None
        return "".join(out), self.process.stderr.read(), code

    def __exit__(self, *_: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        self.reader.join(timeout=10)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


# --- 8. Forged task messages -------------------------------------------------------------------

#: (positional args, keyword args, what the reason says after "invalid order: ")
FORGED: list[tuple[list[Any], dict[str, Any], str]] = [
    ([], {"table": "7", "dish": "Pasta"}, "table must be a whole number from 1 to 50, not '7'"),
    ([], {"table": 7.0, "dish": "Pasta"}, "table must be a whole number from 1 to 50, not 7.0"),
    ([], {"table": [7], "dish": "Pasta"}, "table must be a whole number from 1 to 50, not [7]"),
    ([], {"table": None, "dish": "Pasta"}, "table must be a whole number"),
    ([], {"table": True, "dish": "Pasta"}, "table must be a whole number"),
    ([], {"table": 10**20, "dish": "Pasta"}, "table must be a whole number"),
    ([], {"table": 7, "dish": ["Pasta"]}, "dish must be a name, not list"),
    ([], {"table": 7, "dish": {"$ne": ""}}, "dish must be a name, not dict"),
    ([], {"table": 7, "dish": "Pasta", "note": 7}, "note must be text, not int"),
    ([], {"table": 7, "dish": "Pasta", "note": "\x1b[2J"}, "note must be one line"),
    ([], {"table": 7, "dish": "Pasta", "ordered_at": "noon"}, "ordered_at must be a Unix time"),
    ([], {}, "table is missing"),
    ([], {"table": 7}, "dish is missing"),
    ([], {"table": 7, "dish": "Pasta", "chef": "me"}, "unexpected field 'chef'"),
    ([7, "Pasta"], {}, "prepare_dish takes keyword arguments only"),
    ([7], {"table": 7, "dish": "Pasta"}, "prepare_dish takes keyword arguments only"),
    ([], {"table": 7, "dish": "x" * 1_000_000}, "dish name is too long (1000000 characters"),
    ([], {"table": 7, "dish": "Pasta", "note": "n" * 1_000_000}, "note is too long (1000000"),
    ([], {"table": 7, "dish": "\x1b[31mPasta\x07"}, "'\\x1b[31mPasta\\x07' is not on the menu"),
]


def test_forged_task_messages_are_dead_lettered_at_once_and_the_kitchen_carries_on(
    kitchen: Kitchen, sender: Celery
) -> None:
    ids = [
        sender.send_task("kitchen.prepare_dish", args=args, kwargs=kwargs, queue=queue).id
        for (args, kwargs, _), queue in zip(FORGED, ["cold", "orders"] * len(FORGED), strict=False)
    ]
    unknown = sender.send_task("kitchen.evil", kwargs={"table": 7}, queue="cold").id

    statuses = kitchen.wait_final(ids)

    assert set(statuses.values()) == {"failed"}
    listed = kitchen.waiter("failed", "--json", "--limit", "10000")
    assert listed.returncode == 0, listed.stderr
    letters = {letter["order_id"]: letter for letter in json.loads(listed.stdout)}
    log = kitchen.worker.wait_for_log("Received unregistered task of type 'kitchen.evil'")
    for order_id, (_, _, reason) in zip(ids, FORGED, strict=True):
        letter = letters[order_id]
        assert letter["reason"].startswith(f"invalid order: {reason}"), letter["reason"]
        assert letter["attempt"] == 1
        events = [event["event"] for event in kitchen.status(order_id)["history"]]
        assert events == ["failed"]  # never received, never cooked, never retried
        assert f"[{order_id}] retry" not in log
        assert f"[{order_id}]: Preparing" not in log
    # The unknown task is refused by the worker and touches nothing.
    assert unknown not in letters
    with kitchen.client() as client:
        assert not client.exists(f"restaurant:order:{unknown}")
    wait_until_drained(kitchen, "cold")
    wait_until_drained(kitchen, "orders")
    kitchen.serves_a_good_order()


def test_a_forged_dish_name_never_reaches_the_terminal_raw(
    kitchen: Kitchen, sender: Celery
) -> None:
    # The kitchen files the dish name of a refused message as given (it is short enough).
    order_id = sender.send_task(
        "kitchen.prepare_dish", kwargs={"table": 8, "dish": "\x1b]0;owned\x07\x1b[2J[/x]"}
    ).id
    kitchen.wait_final([order_id])

    for args in (("status", order_id), ("failed",), ("orders",)):
        result = kitchen.waiter(*args)
        assert result.returncode == 0, result.stderr
        assert order_id in result.stdout
        assert "\x1b" not in result.stdout and "\x07" not in result.stdout, args
    # Shown escaped, as text (the rich tables take no markup from it either).
    shown = kitchen.waiter("status", order_id).stdout
    assert "dish:     \\x1b]0;owned\\x07\\x1b[2J[/x]\n" in shown
    with Watching(kitchen, order_id) as watching:
        with kitchen.client() as client:
            forged = make_event(
                Kind.PROGRESS, order_id, table=8, dish="\x1b[2J", percent=10, seq=99
            )
            client.publish(f"restaurant:11:events:order:{order_id}", forged.to_json())
        out, _, code = watching.stop_after("10% cooked")
    assert code == 0
    assert "\x1b" not in out


# --- 9. Hostile command lines and batch files --------------------------------------------------


@dataclass
class Snapshot:
    """Every key of a database, and the length of every list (the queues) in it."""

    keys: dict[str, int]

    @classmethod
    def of(cls, url: str) -> "Snapshot":
        with redis.Redis.from_url(url, decode_responses=True) as client:
            keys = sorted(client.keys("*"))
            return cls({k: client.llen(k) if client.type(k) == "list" else 0 for k in keys})


IdleRun = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def on_idle_db(kitchen_env: dict[str, str], idle_url: str) -> IdleRun:
    """Run the waiter on a database no worker drains; a failed run must leave it as it was."""

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        before = Snapshot.of(idle_url)
        result = run_waiter({**kitchen_env, "REDIS_URL": idle_url}, *args, stdin=stdin)
        if result.returncode != 0:
            assert Snapshot.of(idle_url) == before, f"{args[:4]} changed Redis"
        return result

    return run


def test_the_snapshot_sees_an_order(on_idle_db: IdleRun, idle_url: str) -> None:
    # The control for the checks below: a good order does change the snapshot.
    before = Snapshot.of(idle_url)
    result = on_idle_db("order", "-t", "1", "-d", "Salad", "--note", "ok", "--key", "k-1")
    assert result.returncode == 0, result.stderr
    after = Snapshot.of(idle_url)
    assert after != before and after.keys["cold"] == 1


ORDER = ("order", "--table", "1", "--dish", "Pasta")
TEN_KB = "x" * 10_240


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("order", "-t", "0", "-d", "Pasta"), "table must be a whole number from 1 to 50, not 0"),
        (("order", "-t", "-1", "-d", "Pasta"), "table must be a whole number from 1 to 50, not -1"),
        (("order", "-t", "abc", "-d", "Pasta"), "--table/-t: Input should be a valid integer"),
        (
            ("order", "-t", str(10**20), "-d", "Pasta"),
            f"table must be a whole number from 1 to 50, not {10**20}",
        ),
        (("order", "-t", "\x1b[31m1", "-d", "Pasta"), "--table/-t: Input should be a valid"),
        (("order", "-t", "1", "-d", ""), "dish name is empty"),
        (("order", "-t", "1", "-d", TEN_KB), "dish name is too long (10240 characters; at most"),
        (("order", "-t", "1", "-d", "\x1b[31mPasta"), "'\\x1b[31mPasta' is not on the menu"),
        (("order", "-t", "1", "-d", "Pas\x07ta\x7f"), "'Pas\\x07ta\\x7f' is not on the menu"),
        (("order", "-t", "1", "-d", "Pasta\u202e"), "'Pasta\\u202e' is not on the menu"),
        ((*ORDER, "--note", ""), "note is empty"),
        ((*ORDER, "--note", TEN_KB), "note is too long (10240 characters; at most 200)"),
        ((*ORDER, "--note", "\x1b[31mred"), "note must be one line of printable text"),
        ((*ORDER, "--note", "bell\x07"), "note must be one line of printable text"),
        ((*ORDER, "--note", "tab\tbed"), "note must be one line of printable text"),
        ((*ORDER, "--note", "\u202eRTL override"), "note must be one line of printable text"),
        ((*ORDER, "--key", ""), "--key is empty"),
        ((*ORDER, "--key", "   "), "--key is empty"),
        ((*ORDER, "--key", "k" * 201), "--key is too long (201 characters; at most 200)"),
        ((*ORDER, "--key", "k" * 10_240), "--key is too long (10240 characters; at most 200)"),
        ((*ORDER, "--key", "a\x1b[31mb"), "--key must be printable text on one line"),
        ((*ORDER, "--key", "a\nb"), "--key must be printable text on one line"),
        (("status", "\x1b[31m"), "'\\x1b[31m' is not an order id"),
        (("retry", "\x1b[31m"), "'\\x1b[31m' is not an order id"),
    ],
)
def test_hostile_command_line(on_idle_db: IdleRun, args: tuple[str, ...], message: str) -> None:
    result = on_idle_db(*args)

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"waiter: error: {message}"), result.stderr
    one_clean_line(result.stderr)


def batch(**fields: Any) -> str:
    return json.dumps([{"table": 1, "dish": "Pasta", **fields}])


TEN_MB = 10 * 1024 * 1024


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (batch(dish="y" * TEN_MB), f"item 1: dish name is too long ({TEN_MB} characters"),
        (batch(note="n" * TEN_MB), f"item 1: note is too long ({TEN_MB} characters"),
        (batch(key="k" * TEN_MB), f"item 1: key is too long ({TEN_MB} characters"),
        ("[" + "1," * (11 * 1024 * 1024) + "1]", "is larger than 20 MB"),
        (batch(dish="Pas\u0000ta"), "item 1: 'Pas\\x00ta' is not on the menu"),
        (batch(dish="\u001b[31mPasta"), "item 1: '\\x1b[31mPasta' is not on the menu"),
        (batch(note="nul\u0000byte"), "item 1: note must be one line of printable text"),
        (batch(note="\u001b[31m"), "item 1: note must be one line of printable text"),
        (batch(key="k\u0000"), "item 1: key must be printable text on one line"),
        (batch(key=""), "item 1: key is empty"),
        (batch(key=7), "item 1: key must be text, not int"),
        (batch(table=10**20), f"item 1: table must be a whole number from 1 to 50, not {10**20}"),
        (batch(table=1e20), "item 1: table must be a whole number from 1 to 50, not 1e+20"),
        (batch(table=0), "item 1: table must be a whole number from 1 to 50, not 0"),
        (batch(table=-1), "item 1: table must be a whole number from 1 to 50, not -1"),
        (batch(table="abc"), "item 1: table must be a whole number from 1 to 50, not 'abc'"),
        (batch(table="\u001b"), "item 1: table must be a whole number from 1 to 50, not '\\x1b'"),
    ],
    ids=lambda value: value if len(value) < 60 else f"{value[:40]}...({len(value)})",
)
def test_hostile_batch_on_stdin(on_idle_db: IdleRun, content: str, message: str) -> None:
    result = on_idle_db("order", "--file", "-", stdin=content)

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"waiter: error: stdin {message}"), result.stderr[:300]
    one_clean_line(result.stderr)


#: Notes that a shell would act on; the waiter and the kitchen must keep them as text.
def shell_notes(canary: Path) -> list[str]:
    return [
        f"; rm -rf {canary}",
        f"$(rm -rf {canary})",
        f"`rm -rf {canary}`",
        f"| rm -rf {canary}",
        f"&& rm -rf {canary} || true",
        f"$(touch {canary.parent / 'touched'}) > /dev/null 2>&1 & ' \" \\",
    ]


def test_shell_metacharacters_in_a_note_are_kept_as_text(kitchen: Kitchen, tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    canary.mkdir()
    notes = shell_notes(canary)
    ids = []
    for note in notes:
        result = kitchen.waiter("order", "-t", "9", "-d", "Salad", "--note", note)
        assert result.returncode == 0, result.stderr
        ids += created_ids(result.stdout)

    assert set(kitchen.wait_final(ids).values()) == {"ready"}
    for order_id, note in zip(ids, notes, strict=True):
        assert kitchen.status(order_id)["note"] == note
        assert cooked(kitchen, order_id)["note"] == note
    assert canary.is_dir()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["canary"]


def cooked(kitchen: Kitchen, order_id: str) -> dict[str, Any]:
    """What the worker returned for the order (its Celery result, JSON)."""
    with kitchen.client() as client:
        raw = client.get(f"celery-task-meta-{order_id}")
    assert raw is not None
    meta: dict[str, Any] = json.loads(raw)
    assert meta["status"] == "SUCCESS", meta
    result: dict[str, Any] = meta["result"]
    return result


UNICODE_NOTES = [
    "sans crème fraîche, s'il vous plaît",
    "ta\u0308glich frisch, Spa\u0308tzle",  # combining diaeresis, not precomposed
    "不要香菜\uff0c谢谢",  # with a full-width comma
    "🌶️🌶️ extra hot 🔥",
    "בלי בצל, תודה",
    "بدون بصل",
]


def test_unicode_is_kept_byte_exact_through_the_kitchen(kitchen: Kitchen) -> None:
    placed: list[tuple[str, str, str]] = []
    for dish, note in zip(UNICODE_DISHES, UNICODE_NOTES, strict=False):
        result = kitchen.waiter("order", "-t", "12", "-d", dish, "--note", note)
        assert result.returncode == 0, result.stderr
        [order_id] = created_ids(result.stdout)
        placed.append((order_id, dish, note))
    # And from a batch file on stdin, the last note with the first dish.
    lines = [{"table": 12, "dish": UNICODE_DISHES[0], "note": UNICODE_NOTES[-1]}]
    result = kitchen.waiter("order", "--file", "-", stdin=json.dumps(lines, ensure_ascii=False))
    assert result.returncode == 0, result.stderr
    placed += [
        (order_id, UNICODE_DISHES[0], UNICODE_NOTES[-1]) for order_id in created_ids(result.stdout)
    ]
    assert len(placed) == len(UNICODE_DISHES) + 1

    kitchen.wait_final([order_id for order_id, _, _ in placed])

    for order_id, dish, note in placed:
        record = kitchen.status(order_id)
        assert (record["status"], record["dish"], record["note"]) == ("ready", dish, note)
        assert record["dish"].encode() == dish.encode()
        assert [e["dish"] for e in record["history"]] == [dish] * len(record["history"])
        assert record["history"][0]["note"] == note
        meta = cooked(kitchen, order_id)
        assert (meta["dish"], meta["note"]) == (dish, note)
        shown = kitchen.waiter("status", order_id)
        assert f"dish:     {dish}\n" in shown.stdout and f"note:     {note}\n" in shown.stdout
    log = kitchen.worker.log()
    assert all(
        f"[{order_id}]: {dish} for table 12 is ready." in log for order_id, dish, _ in placed
    )


# --- 10. A Redis that accepts connections but never answers -------------------------------------


@pytest.fixture
def paused_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own (never the shared one), to be paused."""
    with RedisServer(None, tmp_path / "redis") as server:
        yield server


def test_a_paused_redis_gives_up_in_bounded_time_then_works(paused_redis: RedisServer) -> None:
    env = {**TEST_KITCHEN, "REDIS_URL": paused_redis.url}
    placed = run_waiter(env, "order", "-t", "3", "-d", "Pasta")
    assert placed.returncode == 0, placed.stderr
    [order_id] = created_ids(placed.stdout)
    # A failed order to retry: no worker serves this Redis, so the ledger is told directly.
    with redis.Redis.from_url(paused_redis.url) as client:
        failed = make_event(Kind.FAILED, order_id, attempt=1, reason="the pot boiled over")
        assert Ledger(client, 3600, 100).record(failed).applied
    commands = [
        ("order", "-t", "3", "-d", "Pasta"),
        ("status", order_id),
        ("failed",),
        ("retry", order_id),
    ]

    def timed(args: tuple[str, ...]) -> tuple[subprocess.CompletedProcess[str], float]:
        started = time.monotonic()
        result = run_waiter(env, *args, timeout=30)
        return result, time.monotonic() - started

    with redis.Redis.from_url(paused_redis.url) as client:
        client.execute_command("CLIENT", "PAUSE", "15000", "ALL")
    paused_at = time.monotonic()
    with ThreadPoolExecutor(len(commands)) as pool:
        outcomes = list(pool.map(timed, commands))
    assert time.monotonic() - paused_at < 15, "the pause ended before the commands did"

    for args, (result, elapsed) in zip(commands, outcomes, strict=True):
        assert result.returncode == 3, (args, result.stdout, result.stderr)
        assert result.stdout == ""
        assert result.stderr.startswith(
            f"waiter: error: cannot reach Redis at {paused_redis.url}: "
        ), result.stderr
        one_clean_line(result.stderr)
        assert elapsed < 8, (args, elapsed)

    deadline = time.monotonic() + 30
    while not answers(paused_redis.url, timeout=1):
        assert time.monotonic() < deadline, "Redis still paused"
    listed = run_waiter(env, "failed", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [letter["order_id"] for letter in json.loads(listed.stdout)] == [order_id]
    retried = run_waiter(env, "retry", order_id)
    assert retried.returncode == 0, retried.stderr
    assert retried.stdout == f"Order {order_id} sent back to the kitchen as attempt 2.\n"
    status = run_waiter(env, "status", order_id, "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["status"] == "pending"
    again = run_waiter(env, "order", "-t", "3", "-d", "Pasta")
    assert again.returncode == 0, again.stderr
    assert len(created_ids(again.stdout)) == 1
    with redis.Redis.from_url(paused_redis.url) as client:
        assert client.llen("pasta") == 3  # the first order, its retry and the last one
