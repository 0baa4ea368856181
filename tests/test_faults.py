"""Fault tests: real workers killed and stopped, a real Redis restarted, poison and duplicates.

Every order must end ready (or dead-lettered, with a reason) exactly once: one `ready` event
in its history and one "is ready." line in all the worker logs together.
"""

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path

import pytest
import redis

from tests.conftest import TEST_KITCHEN, WAITER, created_ids, run_waiter
from tools.redis_server import REDIS_CONF, RedisServer
from tools.scheduler import Scheduler
from tools.worker import KitchenWorker

pytestmark = pytest.mark.e2e

MENU = Path(__file__).resolve().parent / "data" / "fault_menu.toml"

#: Stew cooks for 1.5 s (long enough to interrupt), Toast in a blink, Bomb kills its cook.
#: A visibility timeout of 11 s (just over the longest hard limit, Bomb's 10 s) and a sweep every
#: second bring back the messages of a dead worker within about 12 s.
FAULT_KITCHEN = {
    **TEST_KITCHEN,
    "KITCHEN_MENU": str(MENU),
    "KITCHEN_SPEED": "1",
    "KITCHEN_TROUBLE": "Bomb=crash",
    "VISIBILITY_TIMEOUT": "11",
    "BROKER_RESTORE_INTERVAL": "1",
    "KITCHEN_LEASE_SECONDS": "1",
    "KITCHEN_MAX_DELIVERIES": "3",
    "KITCHEN_REPORT_PATIENCE": "30",
}


@pytest.fixture(scope="module")
def aof_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A Redis of its own with the shipped redis.conf: AOF on, so it can be restarted."""
    with RedisServer(None, tmp_path_factory.mktemp("aof-redis"), config=REDIS_CONF) as server:
        yield server


@pytest.fixture
def env(aof_redis: RedisServer) -> dict[str, str]:
    """The fault kitchen's environment, on an emptied server."""
    with redis.Redis.from_url(aof_redis.url) as client:
        client.flushall()
    return {**FAULT_KITCHEN, "REDIS_URL": aof_redis.url}


@pytest.fixture
def client(aof_redis: RedisServer) -> Iterator[redis.Redis]:
    """A client on the fault kitchen's database."""
    with redis.Redis.from_url(aof_redis.url, decode_responses=True) as connection:
        yield connection


class Kitchen:
    """The workers of one test: started, killed and stopped by PID, logs kept for counting."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.env = env
        self.folder = folder
        self.workers: list[KitchenWorker] = []
        self.orphans: list[int] = []

    def start(self, name: str, concurrency: int = 2) -> KitchenWorker:
        """Start one more worker."""
        worker = KitchenWorker(
            self.env, self.folder / f"{name}.log", concurrency=concurrency, name=name
        )
        self.workers.append(worker.start())
        return worker

    def kill(self, worker: KitchenWorker) -> None:
        """SIGKILL the worker's main process only, as a crash or the OOM killer would."""
        assert worker.process is not None
        self.orphans += children(worker.process.pid)
        worker.process.send_signal(signal.SIGKILL)
        worker.process.wait()

    def logs(self) -> str:
        """All the workers' logs, one after the other."""
        return "".join(worker.log() for worker in self.workers)

    def stop(self) -> None:
        """Stop every worker, and any pool process left behind by a killed one."""
        for worker in self.workers:
            worker.stop()
        for pid in self.orphans:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def kitchen(env: dict[str, str], tmp_path: Path) -> Iterator[Kitchen]:
    """The test's workers, all stopped at the end."""
    workers = Kitchen(env, tmp_path)
    yield workers
    workers.stop()


def children(pid: int) -> list[int]:
    """The PIDs of a process's children (a worker's pool processes)."""
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return [int(child) for child in found.stdout.split()]


def place(env: dict[str, str], *args: str) -> list[str]:
    """Place an order with the real waiter; return the order ids it printed."""
    result = run_waiter(env, "order", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return created_ids(result.stdout)


def history(client: redis.Redis, order_id: str) -> list[dict[str, object]]:
    """An order's events, from the ledger."""
    return [json.loads(raw) for raw in client.lrange(f"restaurant:order:{order_id}:history", 0, -1)]


def wait_until_final(client: redis.Redis, ids: list[str], timeout: float) -> dict[str, str]:
    """Wait until every order is ready, failed or cancelled; return their statuses."""
    deadline = time.monotonic() + timeout
    while True:
        statuses = {
            order_id: str(client.hget(f"restaurant:order:{order_id}", "status")) for order_id in ids
        }
        if all(status in ("ready", "failed", "cancelled") for status in statuses.values()):
            return statuses
        if time.monotonic() > deadline:
            waiting = {k: v for k, v in statuses.items() if v not in ("ready", "failed")}
            pending = list(waiting.items())[:5]
            raise AssertionError(f"{len(waiting)} orders not finished, e.g. {pending}")
        time.sleep(0.1)


def assert_each_ready_once(client: redis.Redis, ids: list[str], logs: Callable[[], str]) -> None:
    """One `ready` event per order, and one "is ready." line in the worker logs.

    A cook logs "is ready." just after the ledger has its `ready`: the logs are read again
    for a moment until every order's line is there (or one is missing for good).
    """

    def cooked(text: str, order_id: str) -> int:
        lines = text.splitlines()
        return sum(f"[{order_id}]: " in line and line.endswith("is ready.") for line in lines)

    deadline = time.monotonic() + 5
    text = logs()
    while time.monotonic() < deadline and any(cooked(text, order_id) == 0 for order_id in ids):
        time.sleep(0.1)
        text = logs()
    for order_id in ids:
        readies = [event for event in history(client, order_id) if event["event"] == "ready"]
        assert len(readies) == 1, f"{order_id}: {len(readies)} ready events"
        times = cooked(text, order_id)
        assert times == 1, f"{order_id} was reported ready {times} times by the cooks"


def assert_queues_empty(client: redis.Redis, timeout: float = 10.0) -> None:
    """Nothing waits in any queue, nothing is held unacknowledged (a cook acknowledges an
    order just after recording it ready, so give the last acknowledgement a moment)."""
    deadline = time.monotonic() + timeout
    while True:
        queues = [key for key in client.keys("*") if client.type(key) == "list" and ":" not in key]
        left = {queue: client.llen(queue) for queue in queues if client.llen(queue)}
        if not left and client.hlen("unacked") == 0:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"left behind: queued {left}, unacked {client.hlen('unacked')}")
        time.sleep(0.1)


def test_worker_killed_mid_dish_with_more_queued(
    kitchen: Kitchen, env: dict[str, str], client: redis.Redis
) -> None:
    first = kitchen.start("first", concurrency=1)
    ids = place(env, "--table", "1", "--dish", "Stew", "--quantity", "4")
    first.wait_for_log(f"[{ids[0]}]: Preparing Stew for table 1...")

    kitchen.kill(first)
    kitchen.start("second")

    statuses = wait_until_final(client, ids, timeout=60)
    assert set(statuses.values()) == {"ready"}
    assert_each_ready_once(client, ids, kitchen.logs)
    assert_queues_empty(client)


def test_pool_process_killed_mid_dish(
    kitchen: Kitchen, env: dict[str, str], client: redis.Redis
) -> None:
    cook = kitchen.start("cook", concurrency=1)
    [order_id] = place(env, "--table", "2", "--dish", "Stew")
    cook.wait_for_log(f"[{order_id}]: Preparing Stew for table 2...")
    assert cook.process is not None
    [child] = children(cook.process.pid)

    os.kill(child, signal.SIGKILL)

    wait_until_final(client, [order_id], timeout=30)
    assert_each_ready_once(client, [order_id], kitchen.logs)
    events = history(client, order_id)
    deliveries = [event.get("delivery") for event in events if event["event"] == "received"]
    assert deliveries == [1, 2]  # the same attempt, handed to a cook a second time
    assert [event["event"] for event in events][-1] == "ready"
    assert kitchen.logs().count(f"[{order_id}]: Preparing Stew") == 2
    assert_queues_empty(client)


def test_sigterm_mid_dish_finishes_it_and_hands_back_the_rest(
    kitchen: Kitchen, env: dict[str, str], client: redis.Redis
) -> None:
    first = kitchen.start("first", concurrency=1)
    ids = place(env, "--table", "3", "--dish", "Stew", "--quantity", "3")
    first.wait_for_log(f"[{ids[0]}]: Preparing Stew for table 3...")
    assert first.process is not None

    first.process.send_signal(signal.SIGTERM)
    first.process.wait(timeout=30)

    # The dish on the stove was finished; the one reserved went straight back to its queue.
    assert client.hget(f"restaurant:order:{ids[0]}", "status") == "ready"
    assert client.llen("stove") == 2 and client.hlen("unacked") == 0
    kitchen.start("second")
    wait_until_final(client, ids, timeout=30)
    assert_each_ready_once(client, ids, kitchen.logs)
    assert_queues_empty(client)


def test_redis_restart_with_200_orders_in_flight(
    kitchen: Kitchen,
    env: dict[str, str],
    client: redis.Redis,
    aof_redis: RedisServer,
    tmp_path: Path,
) -> None:
    kitchen.start("cook")
    batch = tmp_path / "orders.json"
    batch.write_text(json.dumps([{"table": 1 + n % 50, "dish": "Toast"} for n in range(200)]))
    ids = place(env, "--file", str(batch))
    assert len(ids) == 200
    deadline = time.monotonic() + 30
    while client.llen("cold") > 150:  # some cooked, most still queued
        assert time.monotonic() < deadline
        time.sleep(0.02)

    aof_redis.restart()

    statuses = wait_until_final(client, ids, timeout=90)
    assert set(statuses.values()) == {"ready"}
    later = place(env, "--table", "9", "--dish", "Toast", "--quantity", "5")
    wait_until_final(client, later, timeout=30)
    assert_each_ready_once(client, ids + later, kitchen.logs)
    assert_queues_empty(client)


def test_a_poison_order_is_dead_lettered_and_others_are_served(
    kitchen: Kitchen, env: dict[str, str], client: redis.Redis
) -> None:
    kitchen.start("cook")
    [bomb] = place(env, "--table", "4", "--dish", "Bomb")
    toasts = place(env, "--table", "4", "--dish", "Toast", "--quantity", "5")

    statuses = wait_until_final(client, [bomb, *toasts], timeout=60)

    assert statuses[bomb] == "failed"
    assert_each_ready_once(client, toasts, kitchen.logs)
    letter = json.loads(client.hget("restaurant:dead:letters", bomb) or "{}")
    assert letter["reason"] == "poison: its cook died on each of its 3 deliveries"
    assert (letter["attempt"], letter["deliveries"]) == (1, 4)
    assert kitchen.logs().count(f"[{bomb}]: Preparing Bomb") == 3
    listed = run_waiter(env, "failed", "--json")
    assert [item["order_id"] for item in json.loads(listed.stdout)] == [bomb]
    assert_queues_empty(client)
    assert all(worker.alive() for worker in kitchen.workers)


def test_the_same_order_placed_concurrently_and_again_is_cooked_once(
    kitchen: Kitchen, env: dict[str, str], client: redis.Redis
) -> None:
    kitchen.start("cook")
    command = ["order", "--table", "5", "--dish", "Stew", "--key", "table-5-round-1"]
    waiters = [
        subprocess.Popen(
            [WAITER, *command],
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    outputs = [waiter.communicate(timeout=30) for waiter in waiters]

    assert all(waiter.returncode == 0 for waiter in waiters), outputs
    lines = [out.strip() for out, _ in outputs]
    created = [line for line in lines if " created: " in line]
    assert len(created) == 1, lines
    [order_id] = created_ids(created[0])
    assert all(line.endswith(order_id) or order_id in line for line in lines)
    wait_until_final(client, [order_id], timeout=30)

    again = run_waiter(env, *command)
    assert again.stdout.startswith(f"Order for table 5 already placed: {order_id} (ready)\n")
    # Every one of them, and the one placing it again, names the same ticket.
    named = {out.strip().splitlines()[-1] for out, _ in outputs} | {again.stdout.splitlines()[-1]}
    assert len(named) == 1 and named.pop().startswith("Ticket "), named
    time.sleep(0.5)
    assert kitchen.logs().count(f"[{order_id}]: Preparing Stew") == 1
    assert_each_ready_once(client, [order_id], kitchen.logs)
    assert_queues_empty(client)


def test_a_message_the_broker_lost_is_sent_again_once(
    kitchen: Kitchen, env: dict[str, str], client: redis.Redis, tmp_path: Path
) -> None:
    # kombu takes a message off its queue before it records it as in a cook's hands: a cook
    # killed (or a Redis stopped) in between loses it. Here the message is simply taken away.
    [lost] = place(env, "--table", "6", "--dish", "Toast")
    waiting = place(env, "--table", "6", "--dish", "Stew", "--quantity", "2")
    taken = [str(message) for message in client.lrange("cold", 0, -1) if lost in message]
    assert client.lrem("cold", 0, taken[0]) == 1 and client.llen("stove") == 2

    with Scheduler({**env, "ORDER_LOST_AFTER": "1"}, tmp_path / "scheduler.log") as scheduler:
        scheduler.wait_until(
            lambda: "was lost in transit" in scheduler.log(), 20, "the scheduler finding it"
        )
        time.sleep(1.5)  # another round or two: the Stews, still queued, are left alone
        assert client.llen("stove") == 2 and client.llen("cold") == 1
        kitchen.start("cook")
        wait_until_final(client, [lost, *waiting], timeout=30)
        log = scheduler.log()

    assert log.count(f"Order {lost} (Toast for table 6) was lost in transit; sent it again") == 1
    assert all(order_id not in log for order_id in waiting)
    assert_each_ready_once(client, [lost, *waiting], kitchen.logs)
    assert_queues_empty(client)
