"""Flower over a real worker and Redis: every order with its arguments and outcome, a password
in front of everything but the health check, metrics, and history that survives a restart."""

import json
import re
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import created_ids, run_waiter
from tests.flower_stack import (
    AUTH,
    DISHES,
    FINAL,
    TABLE,
    USER,
    Monitored,
    monitored_restaurant,
    wait_for,
)
from tools.flower import Flower

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Monitored]:
    """The restaurant and its Flower, shared by this module; the orders already placed."""
    with monitored_restaurant(tmp_path_factory.mktemp("flower")) as running:
        yield running


def test_every_order_is_listed_with_its_arguments_and_outcome(monitored: Monitored) -> None:
    tasks = monitored.final_tasks(list(monitored.orders.values()))

    for dish, order_id in monitored.orders.items():
        task = tasks[order_id]
        assert task["uuid"] == order_id
        assert task["name"] == "kitchen.prepare_dish"
        assert task["state"] == FINAL[dish], task
        assert f"'table': {TABLE}" in task["kwargs"] and f"'dish': '{dish}'" in task["kwargs"]
        assert task["args"] == "()"
        # The waiter's task-sent event and the worker's events both reached Flower.
        assert task["sent"] is not None and task["received"] is not None, task
        assert task["worker"] == monitored.worker_name
    pasta, burger, steak = (tasks[monitored.orders[dish]] for dish in DISHES)
    assert pasta["retries"] == 0 and pasta["exception"] is None
    assert monitored.orders["Pasta"] in pasta["result"] and "'dish': 'Pasta'" in pasta["result"]
    assert burger["retries"] == 2
    assert burger["exception"] == "KitchenTrouble('the grill station is busy')"
    assert steak["retries"] == 3
    assert steak["exception"] == (
        "OrderFailed('gave up after 4 attempts: ran short of an ingredient for Steak')"
    )


def test_task_info_tells_one_order(monitored: Monitored) -> None:
    monitored.final_tasks(list(monitored.orders.values()))

    steak = monitored.api(f"/api/task/info/{monitored.orders['Steak']}")
    burger = monitored.api(f"/api/task/info/{monitored.orders['Burger']}")

    assert steak["state"] == "FAILURE" and "'dish': 'Steak'" in steak["kwargs"]
    assert "gave up after 4 attempts" in steak["exception"]
    assert "restaurant.exceptions.OrderFailed: gave up after 4 attempts" in steak["traceback"]
    assert burger["state"] == "SUCCESS" and burger["retries"] == 2
    assert "the grill station is busy" in burger["exception"]
    status, _ = monitored.flower.request(f"/api/task/info/{uuid.uuid4()}", auth=AUTH)
    assert status == 404


def test_workers_api_shows_the_cook(monitored: Monitored) -> None:
    workers = monitored.api("/api/workers?refresh=1")

    stats = workers[monitored.worker_name]["stats"]
    assert stats["pool"]["max-concurrency"] == 2
    # Each attempt is a task run: Pasta once, Burger three times, Steak four times.
    assert stats["total"]["kitchen.prepare_dish"] >= 1 + 3 + 4
    assert "orders" in [queue["name"] for queue in workers[monitored.worker_name]["active_queues"]]
    # The Broker page's numbers: the orders queue, empty now that every order is done.
    queues = monitored.api("/api/queues/length")["active_queues"]
    assert {"name": "orders", "messages": 0} in queues


def test_an_order_shows_as_soon_as_it_is_placed(monitored: Monitored) -> None:
    """With no cook taking the cold station's orders, a new Salad is listed from the waiter's event alone."""
    worker = monitored.worker_name
    flower = monitored.flower
    status, body = flower.request(
        f"/api/worker/queue/cancel-consumer/{worker}?queue=cold", auth=AUTH, method="POST"
    )
    assert status == 200, body
    try:
        result = run_waiter(monitored.env, "order", "--table", "9", "--dish", "Salad")
        assert result.returncode == 0, result.stderr
        [order_id] = created_ids(result.stdout)

        def listed() -> dict[str, str] | None:
            status, _ = flower.request(f"/api/task/info/{order_id}", auth=AUTH)
            return monitored.api(f"/api/task/info/{order_id}") if status == 200 else None

        placed = wait_for(listed, 20, "Flower to list the order the waiter placed")
        assert placed["state"] == "PENDING" and placed["received"] is None
        assert "'table': 9" in placed["kwargs"] and "'dish': 'Salad'" in placed["kwargs"]
    finally:
        status, body = flower.request(
            f"/api/worker/queue/add-consumer/{worker}?queue=cold", auth=AUTH, method="POST"
        )
        assert status == 200, body
    assert monitored.final_tasks([order_id])[order_id]["state"] == "SUCCESS"


PROTECTED = [
    "/",
    "/workers",
    "/tasks",
    "/broker",
    "/api/tasks",
    "/api/workers",
    "/api/task/types",
    "/api/queues/length",
]


def test_basic_auth_guards_pages_api_and_controls(monitored: Monitored) -> None:
    flower = monitored.flower
    order_id = monitored.orders["Pasta"]
    pages = [*PROTECTED, f"/task/{order_id}", f"/api/task/info/{order_id}"]
    # A control that changes nothing here: revoking an order id nobody placed.
    control = f"/api/task/revoke/{uuid.uuid4()}"

    for path in pages:
        assert flower.request(path)[0] == 401, path
        assert flower.request(path, auth=(USER, "wrong"))[0] == 401, path
        assert flower.request(path, auth=AUTH)[0] == 200, path
    for path in (control, f"/api/worker/pool/grow/{monitored.worker_name}?n=1"):
        assert flower.request(path, method="POST")[0] == 401, path
    assert flower.request("/api/task/send-task/kitchen.prepare_dish", method="POST")[0] == 401
    assert flower.request(control, auth=AUTH, method="POST")[0] == 200
    assert flower.request("/healthcheck") == (200, b"OK")
    # Prometheus scrapes without credentials (the manual says so).
    status, metrics = flower.request("/metrics")
    assert status == 200 and b"flower_events_total" in metrics
    # The URL prefix is the only way in.
    unprefixed = f"http://127.0.0.1:{flower.port}"
    assert flower.base_url != unprefixed
    assert _at(flower, unprefixed).request("/api/tasks", auth=AUTH)[0] == 404


def test_metrics_count_the_orders(monitored: Monitored) -> None:
    monitored.final_tasks(list(monitored.orders.values()))
    metrics = monitored.flower.request("/metrics")[1].decode()
    worker = monitored.worker_name

    def sample(name: str, **labels: str) -> float:
        shown = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
        match = re.search(rf"^{name}{{{re.escape(shown)}}} (\S+)$", metrics, re.MULTILINE)
        assert match, f"{name}{{{shown}}} not in /metrics"
        return float(match.group(1))

    task = "kitchen.prepare_dish"
    assert sample("flower_events_total", task=task, type="task-failed", worker=worker) == 1
    assert sample("flower_events_total", task=task, type="task-retried", worker=worker) == 5
    assert sample("flower_task_runtime_seconds_count", task=task, worker=worker) >= 2
    assert sample("flower_worker_online", worker=worker) == 1
    # New orders are announced by the waiter under one name per host; retries by the cook.
    waiter = f"waiter@{socket.gethostname()}"
    assert sample("flower_events_total", task=task, type="task-sent", worker=waiter) >= 3
    assert sample("flower_events_total", task=task, type="task-sent", worker=worker) == 5
    assert 'worker="gen' not in metrics
    # Every metric the manual documents is one Flower really serves.
    manual = (ROOT / "docs" / "monitoring.md").read_text(encoding="utf-8")
    section = manual.split("## Metrics for Prometheus", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`(flower_[a-z_]+)", section))
    assert len(documented) >= 5
    for name in documented:
        assert re.search(rf"^{name}(_bucket|_count|_sum)?{{", metrics, re.MULTILINE), name


def test_history_survives_a_restart(monitored: Monitored, tmp_path: Path) -> None:
    order_ids = list(monitored.orders.values())
    before = monitored.final_tasks(order_ids)
    old = monitored.flower

    old.stop()  # SIGTERM: Flower saves its state as it stops
    restarted = Flower(monitored.env, monitored.workdir / "flower.log", port=old.port).start()
    monitored.flower = restarted

    after = monitored.api("/api/tasks")
    for order_id in order_ids:
        assert after[order_id]["state"] == before[order_id]["state"]
        assert after[order_id]["kwargs"] == before[order_id]["kwargs"]
    # The control: the same Flower without its state file knows none of them.
    forgetful = {**monitored.env, "FLOWER_PERSISTENT": "false"}
    with Flower(forgetful, tmp_path / "forgetful.log") as fresh:
        status, body = fresh.request("/api/tasks", auth=AUTH)
        assert status == 200 and not set(order_ids) & set(json.loads(body))


def _at(flower: Flower, base_url: str) -> Flower:
    """The same Flower, addressed without its URL prefix."""
    other = Flower(flower.env, flower.log_path, port=flower.port)
    other.base_url = base_url
    return other
