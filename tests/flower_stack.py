"""A monitored restaurant for the Flower tests: its own Redis, a worker, Flower, three orders."""

import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tests.conftest import TEST_KITCHEN, created_ids, run_waiter
from tools.flower import Flower, MonitoredWorker
from tools.redis_server import RedisServer

USER, PASSWORD = "manager", "flower-s3cret"
AUTH = (USER, PASSWORD)
PREFIX = "monitor"
#: The orders every Flower test looks for, placed for one table: ready, retried then ready
#: (the grill is busy twice), failed (never enough meat), as TEST_KITCHEN arranges.
TABLE = 7
DISHES = ("Pasta", "Burger", "Steak")
FINAL = {"Pasta": "SUCCESS", "Burger": "SUCCESS", "Steak": "FAILURE"}

T = TypeVar("T")


@dataclass
class Monitored:
    """A running restaurant watched by Flower, with the orders placed on it."""

    env: dict[str, str]
    flower: Flower
    worker: MonitoredWorker
    worker_name: str
    workdir: Path
    #: Order ids by dish.
    orders: dict[str, str] = field(default_factory=dict)

    def api(self, path: str) -> Any:
        """GET a Flower API path with the manager's credentials; return the decoded JSON."""
        status, body = self.flower.request(path, auth=AUTH)
        assert status == 200, (path, status, body[:500])
        return json.loads(body)

    def final_tasks(self, order_ids: list[str], timeout: float = 30) -> dict[str, Any]:
        """Wait until Flower has each of these orders in a final state; return /api/tasks."""

        def ready() -> dict[str, Any] | None:
            tasks: dict[str, Any] = self.api("/api/tasks")
            done = all(
                tasks.get(order_id, {}).get("state") in ("SUCCESS", "FAILURE")
                for order_id in order_ids
            )
            return tasks if done else None

        return wait_for(ready, timeout, f"Flower to list {order_ids} as done")


def wait_for(check: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll `check` until it returns something truthy; fail the test after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        time.sleep(0.2)
    return result


@contextmanager
def monitored_restaurant(workdir: Path, **extra_env: str) -> Iterator[Monitored]:
    """Start Redis, Flower (basic auth, URL prefix, state file) and a worker; place the orders."""
    with ExitStack() as stack:
        redis = stack.enter_context(RedisServer(None, workdir / "redis"))
        env = {
            **TEST_KITCHEN,
            "REDIS_URL": redis.url,
            "FLOWER_BASIC_AUTH": f"{USER}:{PASSWORD}",
            "FLOWER_URL_PREFIX": PREFIX,
            "FLOWER_DB": str(workdir / "flower-state" / "state"),
            **extra_env,
        }
        flower = stack.enter_context(Flower(env, workdir / "flower.log"))
        worker = stack.enter_context(
            MonitoredWorker(env, workdir / "worker.log", name="chef-flower")
        )
        monitored = Monitored(env, flower, worker, "", workdir)

        def stop_current_flower() -> None:
            # A test may restart Flower: stop whichever one runs at the end.
            monitored.flower.stop()

        stack.callback(stop_current_flower)
        # Flower knows the worker from its events (online) and from inspecting it (control).
        wait_for(
            lambda: (
                'flower_worker_online{worker="chef-flower@'
                in flower.request("/metrics")[1].decode()
            ),
            30,
            "Flower to receive the worker's events",
        )
        workers = wait_for(
            lambda: [n for n in monitored.api("/api/workers?refresh=1") if "chef-flower@" in n],
            30,
            "Flower to inspect the worker",
        )
        monitored.worker_name = workers[0]
        command = ["order", "--table", str(TABLE), "--wait", "--timeout", "60"]
        result = run_waiter(env, *command, *(arg for dish in DISHES for arg in ("-d", dish)))
        assert result.returncode == 4, result.stdout + result.stderr  # the Steak fails
        monitored.orders = dict(zip(DISHES, created_ids(result.stdout), strict=True))
        yield monitored
