"""End to end: retries, permanent errors and time limits, on a real prefork worker."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from tests.conftest import Waiter, created_ids, run_waiter
from tools.worker import KitchenWorker

pytestmark = pytest.mark.e2e


def report(waiter: Waiter, order_id: str, until: tuple[str, ...] = ("ready", "failed")) -> Any:
    deadline = time.monotonic() + 30
    while True:
        result = json.loads(waiter("status", order_id, "--json").stdout)
        if result["status"] in until:
            return result
        assert time.monotonic() < deadline, result
        time.sleep(0.1)


def test_passing_trouble_is_retried_then_the_dish_is_ready(
    waiter: Waiter, worker: KitchenWorker
) -> None:
    # The test kitchen's grill is busy for the first two attempts at a Burger.
    result = waiter("order", "--table", "8", "--dish", "Burger", "--wait")

    assert result.returncode == 0, result.stdout + result.stderr
    [order_id] = created_ids(result.stdout)
    assert "attempt 3," in result.stdout
    log = worker.wait_for_log(f"[{order_id}]: Burger for table 8 is ready.")
    assert log.count(f"[{order_id}]: Trouble with Burger for table 8") == 2
    assert (
        f"[{order_id}]: Trouble with Burger for table 8 (attempt 1 of 4): the grill station is busy"
        in log
    )
    assert log.count(f"[{order_id}]: Preparing Burger for table 8...") == 3
    assert report(waiter, order_id)["attempt"] == 3


def test_trouble_that_never_clears_exhausts_the_retries(
    waiter: Waiter, worker: KitchenWorker
) -> None:
    result = waiter("order", "--table", "9", "--dish", "Steak", "--wait")

    assert result.returncode == 4
    [order_id] = created_ids(result.stdout)
    final = report(waiter, order_id)
    assert final["status"] == "failed"
    assert final["attempt"] == 4
    assert final["reason"] == "gave up after 4 attempts: ran short of an ingredient for Steak"
    log = worker.log()
    assert log.count(f"[{order_id}]: Preparing Steak for table 9...") == 4
    assert log.count(f"[{order_id}]: Trouble with Steak") == 3


def test_retry_delays_grow(waiter: Waiter, worker: KitchenWorker) -> None:
    result = waiter("order", "--table", "9", "--dish", "Steak", "--wait")
    [order_id] = created_ids(result.stdout)

    delays = [
        float(line.rsplit("trying again in ", 1)[1].split()[0])
        for line in worker.log().splitlines()
        if f"[{order_id}]: Trouble with" in line
    ]
    # Backoff 0.05 s doubling, capped at 0.2 s, with at least half of each step kept.
    assert len(delays) == 3
    assert (
        0.02 <= delays[0] <= 0.055 and 0.045 <= delays[1] <= 0.105 and 0.095 <= delays[2] <= 0.205
    )


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"table": 1, "dish": "Unicorn"}, "'Unicorn' is not on the menu"),
        ({"table": -1, "dish": "Pasta"}, "table must be a whole number from 1 to 50, not -1"),
        ({"table": "1", "dish": "Pasta"}, "table must be a whole number from 1 to 50, not '1'"),
        ({"dish": "Pasta"}, "table is missing"),
        ({"table": 1, "dish": "Pasta", "chef": "me"}, "unexpected field 'chef'"),
        ({"table": 1, "dish": "x" * 10_000}, "dish name is too long (10000 characters"),
    ],
)
def test_a_bad_message_fails_at_once_and_is_never_retried(
    raw_sender: Celery, waiter: Waiter, worker: KitchenWorker, kwargs: dict[str, Any], reason: str
) -> None:
    order_id = raw_sender.send_task("kitchen.prepare_dish", kwargs=kwargs).id

    final = report(waiter, order_id)

    assert final["status"] == "failed"
    assert final["reason"].startswith(f"invalid order: {reason}")
    assert final["attempt"] == 1
    log = worker.wait_for_log(
        f"Task kitchen.prepare_dish[{order_id}] raised expected: InvalidOrder"
    )
    assert f"[{order_id}] retry" not in log
    assert f"[{order_id}]: Preparing" not in log


def test_positional_arguments_are_refused(
    raw_sender: Celery, waiter: Waiter, worker: KitchenWorker
) -> None:
    order_id = raw_sender.send_task("kitchen.prepare_dish", args=[1, "Pasta"]).id

    final = report(waiter, order_id)

    assert (final["status"], final["attempt"]) == ("failed", 1)
    assert final["reason"] == "invalid order: prepare_dish takes keyword arguments only"


def test_a_dish_over_its_soft_limit_fails_cleanly(waiter: Waiter, worker: KitchenWorker) -> None:
    # Soup is forced slow: it would cook past its soft limit (10 s / speed 20 = 0.5 s).
    result = waiter("order", "--table", "10", "--dish", "Soup", "--wait")

    assert result.returncode == 4
    [order_id] = created_ids(result.stdout)
    assert (
        f"(order {order_id}): took too long: still cooking after the 0.5 s limit" in result.stdout
    )
    log = worker.wait_for_log(f"[{order_id}]: Soup for table 10 took too long; stopped after 0.5 s")
    assert f"Soft time limit (0.5s) exceeded for kitchen.prepare_dish[{order_id}]" in log
    assert f"Hard time limit (0.7s) exceeded for kitchen.prepare_dish[{order_id}]" not in log


def test_a_dish_over_its_hard_limit_is_killed_and_the_worker_carries_on(
    waiter: Waiter, worker: KitchenWorker
) -> None:
    # Fries are forced stuck: deaf to the soft limit, killed at the hard one (14 / 20 = 0.7 s).
    result = waiter("order", "--table", "11", "--dish", "Fries", "--wait")

    assert result.returncode == 4
    [order_id] = created_ids(result.stdout)
    assert f"(order {order_id}): took too long: killed at its hard time limit" in result.stdout
    worker.wait_for_log(f"Hard time limit (0.7s) exceeded for kitchen.prepare_dish[{order_id}]")
    worker.wait_for_log("exited with 'signal 9 (SIGKILL)'")
    assert worker.alive()
    # The killed dish is not delivered again, and the next orders are served.
    after = waiter("order", "--table", "11", "--dish", "Pasta", "--dish", "Salad", "--wait")
    assert after.returncode == 0, after.stdout + after.stderr
    assert after.stdout.count(" is ready after ") == 2
    assert worker.log().count(f"[{order_id}]: Preparing Fries") == 1


def test_a_cook_process_killed_mid_dish_hands_the_order_back(
    kitchen_env: dict[str, str], tmp_path: Path
) -> None:
    # Late acknowledgement with task_reject_on_worker_lost: the order goes back to the queue.
    url = kitchen_env["REDIS_URL"].removesuffix("/0") + "/4"
    env = {**kitchen_env, "REDIS_URL": url, "KITCHEN_SPEED": "2", "KITCHEN_TROUBLE": ""}
    with KitchenWorker(env, tmp_path / "worker.log", concurrency=1) as cook:
        assert cook.process is not None
        [order_id] = created_ids(run_waiter(env, "order", "-t", "13", "-d", "Risotto").stdout)
        cook.wait_for_log(f"[{order_id}]: Preparing Risotto for table 13...")
        [child] = subprocess.run(
            ["pgrep", "-P", str(cook.process.pid)], capture_output=True, text=True, check=True
        ).stdout.split()
        os.kill(int(child), signal.SIGKILL)

        result = run_waiter(env, "order", "-t", "13", "-d", "Salad", "--wait")
        log = cook.wait_for_log(f"[{order_id}]: Risotto for table 13 is ready.")

    assert f"pid:{child} exited with 'signal 9 (SIGKILL)'" in log
    assert log.count(f"[{order_id}]: Preparing Risotto for table 13...") == 2
    assert log.count(f"[{order_id}]: Risotto for table 13 is ready.") == 1
    assert result.returncode == 0, result.stdout + result.stderr
