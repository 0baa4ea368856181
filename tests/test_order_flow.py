"""End to end: the real waiter, a real prefork worker and a real Redis."""

import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.conftest import WAITER, Waiter, created_ids, run_waiter
from tools.worker import KitchenWorker

pytestmark = pytest.mark.e2e


def status_of(waiter: Waiter, order_id: str) -> dict[str, Any]:
    result = waiter("status", order_id, "--json")
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def wait_for_status(
    waiter: Waiter, order_id: str, wanted: str, timeout: float = 20
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (report := status_of(waiter, order_id))["status"] != wanted:
        assert time.monotonic() < deadline, f"{order_id} is {report['status']}, not {wanted}"
        time.sleep(0.1)
    return report


def test_one_dish_is_cooked_and_the_worker_logs_it(waiter: Waiter, worker: KitchenWorker) -> None:
    result = waiter("order", "--table", "1", "--dish", "Pasta")

    assert result.returncode == 0, result.stderr
    [order_id] = created_ids(result.stdout)
    assert re.fullmatch(
        rf"Order for table 1 created: {order_id}\nTicket \d+ for table 1: Pasta\n", result.stdout
    )
    report = wait_for_status(waiter, order_id, "ready")
    assert report["table"] == 1 and report["dish"] == "Pasta" and report["attempt"] == 1
    assert report["order_id"] == order_id
    assert report["worker"] == worker.name.replace("%h", report["worker"].split("@")[1])
    log = worker.wait_for_log(f"[{order_id}]: Pasta for table 1 is ready.")
    assert f"[{order_id}]: Preparing Pasta for table 1..." in log
    assert log.index("Preparing Pasta for table 1...") < log.index("Pasta for table 1 is ready.")


def test_several_dishes_with_a_quantity_each_get_their_own_task(waiter: Waiter) -> None:
    result = waiter(
        "order", "-t", "2", "--dish", "Pasta", "--dish", "salad", "--quantity", "2", "--wait"
    )

    assert result.returncode == 0, result.stderr
    ids = created_ids(result.stdout)
    assert len(ids) == 4 and len(set(ids)) == 4
    assert result.stdout.count("Pasta for table 2 is ready after") == 2
    assert result.stdout.count("Salad for table 2 is ready after") == 2  # the menu's spelling
    for order_id in ids:
        assert status_of(waiter, order_id)["status"] == "ready"


def test_a_batch_file_in_the_tutorial_shape(waiter: Waiter, tmp_path: Path) -> None:
    batch = tmp_path / "orders.json"
    batch.write_text(
        json.dumps(
            [
                {"table": 1, "dish": "Pasta"},
                {"table": 2, "dish": "Tiramisu", "note": "no cocoa"},
                {"table": 1, "dish": "Salad", "quantity": 2},
            ]
        )
    )

    result = waiter("order", "--file", str(batch), "--wait", "--timeout", "30")

    assert result.returncode == 0, result.stderr
    assert [line.split(" created:")[0] for line in result.stdout.splitlines()[:4]] == [
        "Order for table 1",
        "Order for table 2",
        "Order for table 1",
        "Order for table 1",
    ]
    assert len(created_ids(result.stdout)) == 4
    assert "Tiramisu for table 2 is ready after" in result.stdout
    assert result.stdout.count(" is ready after ") == 4


def test_a_batch_file_from_stdin(waiter: Waiter) -> None:
    result = waiter("order", "--file", "-", stdin='[{"table": 3, "dish": "Risotto"}]')

    assert result.returncode == 0, result.stderr
    [order_id] = created_ids(result.stdout)
    assert wait_for_status(waiter, order_id, "ready")["dish"] == "Risotto"


def test_wait_prints_each_outcome_with_its_time(waiter: Waiter) -> None:
    result = waiter("order", "--table", "4", "--dish", "Pasta", "--dish", "Steak", "--wait")

    assert result.returncode == 4, result.stdout
    pasta, steak = created_ids(result.stdout)
    assert "Pasta for table 4 is ready after " in result.stdout
    assert f"(order {pasta}, attempt 1, " in result.stdout
    assert "Steak for table 4 failed after " in result.stdout
    assert f"(order {steak}): gave up after 4 attempts: ran short of an ingredient" in result.stdout
    assert result.stderr == "waiter: error: 1 of 2 dishes failed\n"


def test_wait_gives_up_at_its_timeout_and_the_order_stays_queued(
    kitchen_env: dict[str, str], idle_url: str
) -> None:
    # No worker listens on this database, so the dish cannot be done in time.
    waiting = subprocess.Popen(
        [WAITER, "order", "--table", "5", "--dish", "Soup", "--wait", "--timeout", "2.5"],
        env={**os.environ, **kitchen_env, "REDIS_URL": idle_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert waiting.stdout is not None
    assert waiting.stdout.readline().startswith("Order for table 5 created: ")
    started = time.monotonic()
    _, err = waiting.communicate(timeout=30)
    waited = time.monotonic() - started

    assert waiting.returncode == 5
    assert err == (
        "waiter: error: timed out after 2.5 s with 1 of 1 dish not done; "
        "it is still in the kitchen (see 'waiter status ID')\n"
    )
    # Exact, not rounded up to Celery's one-second polls (which would make it 3 s).
    assert 2.0 <= waited < 2.9
    with redis.Redis.from_url(idle_url) as client:
        assert client.llen("stove") == 1  # the Soup station's queue


def test_status_of_a_queued_order_is_pending(kitchen_env: dict[str, str], idle_url: str) -> None:
    env = {**kitchen_env, "REDIS_URL": idle_url}  # no worker here: the order stays queued
    [order_id] = created_ids(run_waiter(env, "order", "--table", "6", "--dish", "Risotto").stdout)

    result = run_waiter(env, "status", order_id, "--json")

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "pending"
    assert (report["table"], report["dish"], report["attempt"]) == (6, "Risotto", 0)


def test_status_follows_a_dish_from_preparing_to_ready(
    kitchen_env: dict[str, str], tmp_path: Path
) -> None:
    # A slow kitchen of its own (database 2), so that the dish is still cooking when asked.
    url = kitchen_env["REDIS_URL"].removesuffix("/0") + "/2"
    env = {**kitchen_env, "REDIS_URL": url, "KITCHEN_SPEED": "2", "KITCHEN_TROUBLE": ""}
    with KitchenWorker(env, tmp_path / "slow.log", concurrency=1):
        [order_id] = created_ids(run_waiter(env, "order", "-t", "6", "-d", "Risotto").stdout)
        seen: list[str] = []
        deadline = time.monotonic() + 30
        while not seen or seen[-1] not in ("ready", "failed"):
            assert time.monotonic() < deadline, seen
            report = json.loads(run_waiter(env, "status", order_id, "--json").stdout)
            if not seen or seen[-1] != report["status"]:
                seen.append(report["status"])
        assert seen[-2:] == ["preparing", "ready"]
        assert set(seen) <= {"pending", "received", "preparing", "ready"}
        [ready] = [event for event in report["history"] if event["event"] == "ready"]
        assert report["attempt"] == 1 and 2.5 <= ready["cook_seconds"] <= 4.5
        assert [event["event"] for event in report["history"]] == [
            "created",
            "received",
            "preparing",
            "progress",
            "progress",
            "progress",
            "ready",
        ]


def test_status_in_words(waiter: Waiter) -> None:
    result = waiter("order", "--table", "7", "--dish", "Salad", "--wait")
    [order_id] = created_ids(result.stdout)

    shown = waiter("status", order_id)

    assert shown.returncode == 0
    lines = dict(line.split(":", 1) for line in shown.stdout.splitlines())
    assert lines["order"].strip() == order_id
    assert lines["status"].strip() == "ready"
    assert lines["dish"].strip() == "Salad" and lines["table"].strip() == "7"


def test_status_of_an_unknown_order(waiter: Waiter) -> None:
    result = waiter("status", "00000000-0000-4000-8000-000000000000")

    assert result.returncode == 6
    assert result.stderr == (
        "waiter: error: no order 00000000-0000-4000-8000-000000000000 "
        "(never placed, or its record has expired)\n"
    )


def test_menu_lists_dishes_with_station_and_cooking_time(waiter: Waiter) -> None:
    result = waiter("menu")

    assert result.returncode == 0
    rows = [line for line in result.stdout.splitlines() if "Pasta" in line]
    assert len(rows) == 1
    assert "pasta" in rows[0] and "3-6 s" in rows[0] and "15 s" in rows[0]
    assert all(dish in result.stdout for dish in ("Burger", "Salad", "Steak", "Tiramisu"))
