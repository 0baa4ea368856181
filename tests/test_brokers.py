"""The order's whole life, end to end, once with Redis and once with RabbitMQ as the broker.

Redis stays the result backend and the event bus either way (`broker_env`): ordering and
waiting, retries, failure into the dead letters and `waiter retry`, a key placed twice, a
cancelled queued order, and a pool process killed mid-dish whose order is cooked once.
"""

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
import redis

from tests.conftest import created_ids, run_waiter
from tools.worker import KitchenWorker

pytestmark = pytest.mark.e2e


def events(env: dict[str, str], order_id: str) -> list[str]:
    """The kinds of an order's events, from the ledger."""
    with redis.Redis.from_url(env["REDIS_URL"]) as client:
        raw = client.lrange(f"restaurant:order:{order_id}:history", 0, -1)
    return [json.loads(item)["event"] for item in raw]


def test_an_order_lives_its_whole_life_on_either_broker(
    broker_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**broker_env, "KITCHEN_MAX_RETRIES": "1", "KITCHEN_TROUBLE": "Burger=busy:2"}
    with KitchenWorker(env, tmp_path / "worker.log") as worker:
        # Salad is cooked; Burger is retried once, gives up, and is a dead letter.
        placed = run_waiter(env, "order", "-t", "1", "-d", "Salad", "-d", "Burger", "--wait")
        assert placed.returncode == 4, placed.stdout + placed.stderr
        salad, burger = created_ids(placed.stdout)
        assert events(env, salad)[-1] == "ready"
        assert events(env, burger).count("retrying") == 1 and events(env, burger)[-1] == "failed"
        letters = json.loads(run_waiter(env, "failed", "--json").stdout)
        assert [letter["order_id"] for letter in letters] == [burger]

        # Sent back, its third attempt cooks it.
        retried = run_waiter(env, "retry", burger)
        assert retried.stdout == f"Order {burger} sent back to the kitchen as attempt 3.\n"
        worker.wait_for_log(f"[{burger}]: Burger for table 1 is ready.")
        assert events(env, burger)[-1] == "ready"

        # The same key twice: one order, cooked once.
        keyed = [
            run_waiter(env, "order", "-t", "2", "-d", "Soup", "--key", "t2", "--wait")
            for _ in range(2)
        ]
        [soup] = created_ids(keyed[0].stdout)
        assert keyed[1].stdout.startswith(f"Order for table 2 already placed: {soup} (ready)")
        assert worker.log().count(f"[{soup}]: Preparing Soup") == 1


def test_a_cancelled_queue_and_a_killed_cook_on_either_broker(
    broker_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**broker_env, "KITCHEN_SPEED": "2", "KITCHEN_TROUBLE": ""}
    with KitchenWorker(env, tmp_path / "worker.log", concurrency=1) as cook:
        # Risotto (2.5-4 s here) occupies the only pool process; Pasta waits behind it.
        [risotto] = created_ids(run_waiter(env, "order", "-t", "3", "-d", "Risotto").stdout)
        cook.wait_for_log(f"[{risotto}]: Preparing Risotto for table 3...")
        [pasta] = created_ids(run_waiter(env, "order", "-t", "3", "-d", "Pasta").stdout)
        assert run_waiter(env, "cancel", pasta).returncode == 0

        [child] = subprocess.run(
            ["pgrep", "-P", str(cook.pid)], capture_output=True, text=True, check=True
        ).stdout.split()
        os.kill(int(child), signal.SIGKILL)

        log = cook.wait_for_log(f"[{risotto}]: Risotto for table 3 is ready.", timeout=60)
        cook.wait_for_log(f"[{pasta}]: Pasta for table 3 was cancelled; not cooking it.")
    log = cook.log()
    assert log.count(f"[{risotto}]: Preparing Risotto") == 2
    assert log.count(f"[{risotto}]: Risotto for table 3 is ready.") == 1
    assert f"[{pasta}]: Preparing" not in log
    kinds = events(env, risotto)
    assert kinds.count("received") == 2 and kinds.count("ready") == 1
    assert events(env, pasta) == ["created", "cancelled"]
