"""A dead worker's messages back in their queues in seconds, and cooked once (kitchen/liveness.py).

Every test kills or stops a real worker while it holds dishes, on the stove or reserved, with
another worker running, and holds every order to one `ready` event and one "is ready." line.
The visibility timeout keeps its default (an hour): none of this may depend on it.
"""

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from kitchen.liveness import WORKERS_KEY, held_by
from tests.conftest import created_ids, run_waiter
from tests.test_faults import assert_each_ready_once, assert_queues_empty, history
from tools.redis_server import RedisServer
from tools.worker import KitchenWorker

pytestmark = pytest.mark.e2e

MENU = Path(__file__).resolve().parent / "data" / "recovery_menu.toml"
#: The defaults, but for the menu: Simmer cooks for 8 s.
RECOVERY_KITCHEN = {"KITCHEN_MENU": str(MENU), "KITCHEN_TROUBLE": "", "KITCHEN_FAILURE_RATE": "0"}
#: The promise: back in their queues and taken by another worker within this, by default.
WITHIN = 10.0


@pytest.fixture
def env(redis_server: RedisServer) -> Iterator[dict[str, str]]:
    """Database 12 of the suite's Redis, emptied, for the recovery kitchen."""
    url = f"redis://127.0.0.1:{redis_server.port}/12"
    with redis.Redis.from_url(url) as client:
        client.flushdb()
    yield {**RECOVERY_KITCHEN, "REDIS_URL": url}


@pytest.fixture
def client(env: dict[str, str]) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(env["REDIS_URL"], decode_responses=True) as connection:
        yield connection


class Cooks:
    """The test's workers, by name; every one stopped at the end, killed ones' pools too."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.env = env
        self.folder = folder
        self.workers: dict[str, KitchenWorker] = {}
        self.left: list[int] = []

    def start(
        self, name: str, *extra: str, pool: str = "prefork", concurrency: int = 2, **env: str
    ) -> KitchenWorker:
        worker = KitchenWorker(
            {**self.env, **env},
            self.folder / f"{name}.log",
            concurrency=concurrency,
            pool=pool,
            name=name,
            extra_args=extra,
        )
        self.workers[name] = worker.start()
        return worker

    def processes(self, name: str) -> list[int]:
        """The worker's main process and its pool processes."""
        main = self.workers[name].pid
        found = subprocess.run(
            ["pgrep", "-P", str(main)], capture_output=True, text=True, check=False
        )
        return [main, *(int(pid) for pid in found.stdout.split())]

    def signal(self, name: str, signum: int, *, pool_too: bool = True) -> None:
        pids = self.processes(name) if pool_too else [self.workers[name].pid]
        self.left += pids
        for pid in pids:
            os.kill(pid, signum)

    def logs(self) -> str:
        return "".join(worker.log() for worker in self.workers.values())

    def stop(self) -> None:
        for pid in self.left:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                continue
        for worker in self.workers.values():
            worker.stop()
        for pid in self.left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue


@pytest.fixture
def cooks(env: dict[str, str], tmp_path: Path) -> Iterator[Cooks]:
    kitchen = Cooks(env, tmp_path)
    yield kitchen
    kitchen.stop()


def place(env: dict[str, str], count: int, table: int) -> list[str]:
    result = run_waiter(env, "order", "-t", str(table), "-d", "Simmer", "-q", str(count))
    assert result.returncode == 0, result.stderr
    return created_ids(result.stdout)


def held(client: redis.Redis, name: str) -> int:
    """How many messages the worker called `name` holds, as its held set says."""
    return held_by(client, f"{name}@")


def wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def received_by(client: redis.Redis, order_id: str, prefix: str) -> float | None:
    """When a worker whose name starts with `prefix` recorded the order `received`."""
    for event in history(client, order_id):
        if event["event"] == "received" and str(event.get("worker", "")).startswith(prefix):
            return float(event["time"])  # type: ignore[arg-type]
    return None


def recovered_within(client: redis.Redis, ids: list[str], prefix: str, killed_at: float) -> float:
    """Wait until another worker received every order; return the seconds since the kill."""
    wait_for(lambda: all(received_by(client, i, prefix) for i in ids), 30, "the orders' return")
    return max(float(received_by(client, i, prefix) or 0) for i in ids) - killed_at


def assert_all_ready_once(client: redis.Redis, ids: list[str], cooks: Cooks) -> None:
    wait_for(
        lambda: all(client.hget(f"restaurant:order:{i}", "status") == "ready" for i in ids),
        60,
        "every order to be ready",
    )
    assert_each_ready_once(client, ids, cooks.logs)
    assert_queues_empty(client)


@pytest.mark.parametrize("pool", ["prefork", "gevent"])
def test_a_killed_workers_dishes_and_reserved_orders_are_back_in_seconds(
    cooks: Cooks, env: dict[str, str], client: redis.Redis, pool: str
) -> None:
    # Two dishes on a prefork stove and two reserved (prefetch 2 x 2); four on the stove on gevent.
    extra = ("--prefetch-multiplier", "2") if pool == "prefork" else ()
    cooks.start("doomed", *extra, pool=pool, concurrency=2 if pool == "prefork" else 4)
    ids = place(env, 4, table=1)
    wait_for(lambda: held(client, "doomed") == 4, 20, "the doomed worker to hold all four")
    cooks.start("spare", concurrency=4)

    killed_at = time.time()
    cooks.signal("doomed", signal.SIGKILL)

    assert recovered_within(client, ids, "spare@", killed_at) < WITHIN
    assert "fell silent" in cooks.workers["spare"].log()
    assert_all_ready_once(client, ids, cooks)
    assert held(client, "doomed") == 0


def test_of_several_workers_on_one_host_only_the_dead_ones_orders_move(
    cooks: Cooks, env: dict[str, str], client: redis.Redis
) -> None:
    cooks.start("first")
    first = place(env, 2, table=2)
    wait_for(lambda: held(client, "first") == 2, 20, "the first worker to hold two")
    cooks.start("second")
    second = place(env, 2, table=3)
    wait_for(lambda: held(client, "second") == 2, 20, "the second worker to hold two")
    cooks.start("spare", concurrency=4)

    killed_at = time.time()
    cooks.signal("first", signal.SIGKILL)

    assert recovered_within(client, first, "spare@", killed_at) < WITHIN
    assert_all_ready_once(client, first + second, cooks)
    for order_id in second:
        received = [e for e in history(client, order_id) if e["event"] == "received"]
        assert [str(e["worker"]).split("@")[0] for e in received] == ["second"]


def test_a_slow_worker_keeps_its_dishes(
    cooks: Cooks, env: dict[str, str], client: redis.Redis
) -> None:
    # Silence of 2 s means dead here; each dish cooks four times that while its worker beats.
    cooks.start("slow", KITCHEN_DEAD_AFTER="2")
    ids = place(env, 2, table=4)
    wait_for(lambda: held(client, "slow") == 2, 20, "the slow worker to hold two")
    cooks.start("idle", KITCHEN_DEAD_AFTER="2")

    assert_all_ready_once(client, ids, cooks)
    assert "fell silent" not in cooks.logs()
    assert "Preparing" not in cooks.workers["idle"].log()
    for order_id in ids:
        received = [e for e in history(client, order_id) if e["event"] == "received"]
        assert len(received) == 1 and str(received[0]["worker"]).startswith("slow@")


@pytest.mark.parametrize("pool_too", [True, False], ids=["whole-worker", "main-process"])
def test_a_worker_cut_off_then_back_loses_its_dishes_but_none_is_cooked_twice(
    cooks: Cooks, env: dict[str, str], client: redis.Redis, pool_too: bool
) -> None:
    cooks.start("cutoff", KITCHEN_DEAD_AFTER="2")
    ids = place(env, 2, table=5)
    wait_for(lambda: held(client, "cutoff") == 2, 20, "the worker to hold two")
    cooks.start("other", KITCHEN_DEAD_AFTER="2")

    cooks.signal("cutoff", signal.SIGSTOP, pool_too=pool_too)
    wait_for(lambda: "fell silent" in cooks.workers["other"].log(), 15, "the other to notice")
    # Longer than a cook's lease (3 s): a stopped cook has lost its dish for good.
    time.sleep(4)
    cooks.signal("cutoff", signal.SIGCONT, pool_too=pool_too)

    assert_all_ready_once(client, ids, cooks)
    if pool_too:
        # Its cooks found their leases taken and stopped; the other worker cooked both.
        wait_for(lambda: "has it now" in cooks.workers["cutoff"].log(), 10, "its cooks to stop")
    else:
        # Its cooks went on and finished; the other worker, waiting for their leases, finds
        # them ready at its next look and cooks nothing.
        wait_for(
            lambda: "is already ready; not cooking it again" in cooks.workers["other"].log(),
            10,
            "the other worker to find the orders ready",
        )


def test_on_rabbitmq_a_killed_workers_orders_come_back_at_once(
    cooks: Cooks, env: dict[str, str], client: redis.Redis, rabbitmq_url: str
) -> None:
    cooks.env = {**env, "BROKER_URL": rabbitmq_url}
    cooks.start("doomed")
    ids = place(cooks.env, 2, table=6)
    wait_for(lambda: all(received_by(client, i, "doomed@") for i in ids), 20, "both on the stove")
    cooks.start("spare")

    killed_at = time.time()
    cooks.signal("doomed", signal.SIGKILL)

    assert recovered_within(client, ids, "spare@", killed_at) < WITHIN
    assert_all_ready_once(client, ids, cooks)
    assert client.zcard(WORKERS_KEY) == 0  # no heartbeats: the broker does this itself
