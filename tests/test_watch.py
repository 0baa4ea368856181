"""End to end: `waiter watch` through lost connections, `--wait` in a terminal, failed publishes."""

import json
import os
import pty
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
import redis
from celery import Celery

from restaurant.events import Kind, make_event
from restaurant.ledger import Ledger
from tests.conftest import WAITER, Waiter, created_ids, run_waiter
from tests.watching import Watcher, wait_until_subscribed
from tools.redis_server import RedisServer, free_port
from tools.worker import KitchenWorker

pytestmark = pytest.mark.e2e


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of this test's own: its connections are cut and its client limit changed."""
    with RedisServer(None, tmp_path) as server:
        yield server


def test_watch_reports_a_lost_connection_and_replays_what_it_missed(
    own_redis: RedisServer,
) -> None:
    env = {"REDIS_URL": own_redis.url}
    with redis.Redis.from_url(own_redis.url) as admin, Watcher(env) as watcher:
        kitchen = Ledger(redis.Redis.from_url(own_redis.url), retention=600, recent_limit=100)
        kitchen.client.ping()  # its connection is open before the door closes
        watcher.wait_until_listening(own_redis.url)
        first, second = str(uuid.uuid4()), str(uuid.uuid4())
        kitchen.record(make_event(Kind.CREATED, first, table=3, dish="Soup"))
        assert watcher.next_event()["seq"] == 1

        # Cut the watcher off, and keep it out while the kitchen goes on.
        connected = int(admin.info("clients")["connected_clients"])
        admin.config_set("maxclients", connected - 1)
        [watch_id] = [c["id"] for c in admin.client_list() if c["name"] == "waiter-watch"]
        admin.client_kill_filter(_id=watch_id)
        kitchen.record(make_event(Kind.RECEIVED, first, attempt=1, worker="chef@host"))
        kitchen.record(make_event(Kind.READY, first, attempt=1, worker="chef@host", percent=100))
        kitchen.record(make_event(Kind.CREATED, second, table=4, dish="Salad"))
        deadline = time.monotonic() + 10
        while not any("lost Redis" in line for line in watcher.errors):
            assert time.monotonic() < deadline, watcher.errors
            time.sleep(0.05)
        time.sleep(1.0)  # a few refused reconnections
        assert watcher.process.poll() is None
        assert watcher.events.empty()

        admin.config_set("maxclients", 10_000)
        replayed = [watcher.next_event(timeout=15) for _ in range(3)]
        watcher.wait_until_listening(own_redis.url)
        kitchen.record(make_event(Kind.RECEIVED, second, attempt=1, worker="chef@host"))
        live = watcher.next_event()
        code = watcher.interrupt()
        kitchen.client.close()

    assert [(e["order_id"], e["event"], e["seq"]) for e in replayed] == [
        (first, "received", 2),
        (first, "ready", 3),
        (second, "created", 1),
    ]
    assert (live["order_id"], live["event"], live["seq"]) == (second, "received", 2)
    assert code == 0
    lost, back = watcher.errors[0], watcher.errors[1]
    assert lost.startswith(f"waiter: lost Redis at redis://127.0.0.1:{own_redis.port}/0 (")
    assert lost.endswith("); reconnecting")
    assert back.startswith(f"waiter: reconnected to Redis at redis://127.0.0.1:{own_redis.port}")
    assert back.endswith("replaying what was missed")
    assert not any("Traceback" in line for line in watcher.errors)


def test_watch_filters_by_table_and_by_order(own_redis: RedisServer) -> None:
    env = {"REDIS_URL": own_redis.url}
    kitchen = Ledger(redis.Redis.from_url(own_redis.url), retention=600, recent_limit=100)
    one, two = str(uuid.uuid4()), str(uuid.uuid4())
    with Watcher(env, "--table", "5") as by_table, Watcher(env, "--order", two) as by_order:
        by_table.wait_until_listening(own_redis.url)
        by_order.wait_until_listening(own_redis.url, watchers=2)
        kitchen.record(make_event(Kind.CREATED, one, table=5, dish="Soup"))
        kitchen.record(make_event(Kind.CREATED, two, table=6, dish="Soup"))
        kitchen.record(make_event(Kind.CANCELLED, one))
        kitchen.record(make_event(Kind.CANCELLED, two))
        table_heard = [by_table.next_event() for _ in range(2)]
        order_heard = [by_order.next_event() for _ in range(2)]
        time.sleep(0.3)
        assert by_table.events.empty() and by_order.events.empty()
        assert by_table.interrupt() == 0 and by_order.interrupt() == 0
    kitchen.client.close()

    assert [(e["order_id"], e["event"]) for e in table_heard] == [
        (one, "created"),
        (one, "cancelled"),
    ]
    assert [(e["order_id"], e["event"]) for e in order_heard] == [
        (two, "created"),
        (two, "cancelled"),
    ]


def test_watch_prints_one_readable_line_per_event(own_redis: RedisServer) -> None:
    env = {**os.environ, "REDIS_URL": own_redis.url}
    watching = subprocess.Popen(
        [WAITER, "watch"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_until_subscribed(watching, own_redis.url)
        order_id = str(uuid.uuid4())
        with redis.Redis.from_url(own_redis.url) as client:
            Ledger(client, 600, 100).record(
                make_event(Kind.CREATED, order_id, table=9, dish="Pasta", note="al dente")
            )
        assert watching.stdout is not None
        line = watching.stdout.readline()
    finally:
        watching.send_signal(2)
        out, err = watching.communicate(timeout=10)
    assert line.endswith(f"  {order_id}  Pasta for table 9: ordered (al dente)\n")
    assert (watching.returncode, out, err) == (0, "", "")


def test_watch_without_redis_fails_at_once(kitchen_env: dict[str, str]) -> None:
    started = time.monotonic()
    result = run_waiter({"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}, "watch")

    assert time.monotonic() - started < 5
    assert result.returncode == 3
    assert result.stderr.startswith("waiter: error: cannot reach Redis at redis://127.0.0.1:")


def test_wait_in_a_terminal_draws_progress_bars(
    waiter: Waiter, kitchen_env: dict[str, str]
) -> None:
    controller, terminal = pty.openpty()
    env = {**os.environ, **kitchen_env, "COLUMNS": "120", "TERM": "xterm"}
    with subprocess.Popen(
        [WAITER, "order", "-t", "32", "-d", "Pasta", "-d", "Risotto", "--wait"],
        env=env,
        stdout=terminal,
        stderr=terminal,
    ) as ordering:
        os.close(terminal)
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal closes when the program ends
                break
            if not chunk:
                break
            shown += chunk
        ordering.wait(timeout=60)
    os.close(controller)
    text = shown.decode(errors="replace")

    assert ordering.returncode == 0, text
    assert "Pasta · table 32" in text and "Risotto · table 32" in text
    assert "━" in text  # the bars
    assert "% cooked" in text or "preparing" in text
    assert "Pasta for table 32 is ready after" in text
    assert "Risotto for table 32 is ready after" in text


def test_a_failed_publish_does_not_fail_the_order(
    worker: KitchenWorker, raw_sender: Celery, redis_client: redis.Redis
) -> None:
    # Something else holds the order's ledger key: every write of its events fails.
    order_id = str(uuid.uuid4())
    redis_client.set(f"restaurant:order:{order_id}", "not a hash")
    fields = {"table": 33, "dish": "Salad", "note": None, "ordered_at": time.time()}

    result = raw_sender.send_task("kitchen.prepare_dish", kwargs=fields, task_id=order_id)

    assert result.get(timeout=30)["dish"] == "Salad"
    log = worker.wait_for_log(f"[{order_id}]: Salad for table 33 is ready.")
    assert f"Could not publish the received event of order {order_id}: WRONGTYPE" in log
    assert f"Could not publish the ready event of order {order_id}: WRONGTYPE" in log
    assert redis_client.get(f"restaurant:order:{order_id}") == b"not a hash"
    result.forget()


def test_status_shows_the_history(waiter: Waiter) -> None:
    [order_id] = created_ids(waiter("order", "-t", "34", "-d", "Burger", "--wait").stdout)

    shown = waiter("status", order_id).stdout
    record = json.loads(waiter("status", order_id, "--json").stdout)

    lines = shown.splitlines()
    assert lines[lines.index("history:") + 1].split()[1] == "created"
    assert sum(" retrying " in line for line in lines) == 2
    assert "the grill station is busy" in shown
    assert lines[-1].split()[1] == "ready"
    assert len(lines) - lines.index("history:") - 1 == len(record["history"])


def test_watch_shows_an_end_numbered_again_by_a_new_master(own_redis: RedisServer) -> None:
    # A master lost in a failover can take an order's last event with it after the watcher
    # heard it: the new master numbers the order's end as that lost event was numbered.
    env = {"REDIS_URL": own_redis.url}
    order_id = str(uuid.uuid4())
    where = {"attempt": 1, "worker": "chef@host", "delivery": 1}
    with (
        redis.Redis.from_url(own_redis.url) as client,
        Watcher(env, "--order", order_id) as watcher,
    ):
        watcher.wait_until_listening(own_redis.url)
        channel = Ledger(client, 600, 100).channel(order_id=order_id)
        told = [
            make_event(Kind.CREATED, order_id, table=2, dish="Sear"),
            make_event(Kind.PROGRESS, order_id, percent=50, **where),  # lost with the old master
            make_event(Kind.READY, order_id, percent=100, **where),  # the new master's
            make_event(Kind.READY, order_id, percent=100, **where),  # a duplicate of it
        ]
        for seq, event in zip([1, 2, 2, 2], told, strict=True):
            client.publish(channel, msgspec.structs.replace(event, seq=seq).to_json())
        shown = [watcher.next_event() for _ in range(3)]
        time.sleep(0.3)
        assert watcher.events.empty()
        assert watcher.interrupt() == 0

    assert [(e["event"], e["seq"]) for e in shown] == [
        ("created", 1),
        ("progress", 2),
        ("ready", 2),
    ]
