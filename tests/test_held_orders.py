"""Held orders (--in, --at) fired once by the scheduler; courses held until `waiter fire`."""

import re
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import redis

from restaurant.menu import load_menu
from restaurant.names import HELD_KEY, HELD_ORDERS_KEY, ORDERS_QUEUE
from restaurant.routing import rush_first
from tests.conftest import created_ids, run_waiter
from tests.kitchens import chef, event_time, kinds, ledger, orders_json, wait_all
from tools.scheduler import Scheduler

pytestmark = pytest.mark.e2e


def queued(env: dict[str, str]) -> int:
    """Messages in the Redis broker's queues and its unacknowledged set (0 for RabbitMQ)."""
    if "BROKER_URL" in env:
        return 0
    queues = [*rush_first(load_menu().stations), ORDERS_QUEUE]
    with redis.Redis.from_url(env["REDIS_URL"]) as client:
        return sum(int(client.llen(name)) for name in queues) + int(client.hlen("unacked"))


def test_an_order_held_past_the_visibility_timeout_fires_once_at_its_time(
    broker_env: dict[str, str], tmp_path: Path
) -> None:
    # The worker accepts a 2 s visibility timeout at this speed; the hold is longer than that.
    env = {**broker_env, "VISIBILITY_TIMEOUT": "2", "SCHEDULER_INTERVAL": "0.1"}
    with (
        chef(env, tmp_path, "chef1", concurrency=2) as cook,
        Scheduler(env, tmp_path / "scheduler1.log"),
        Scheduler(env, tmp_path / "scheduler2.log"),
    ):
        before = time.time()
        placed = run_waiter(env, "order", "-t", "4", "-d", "Pasta", "--in", "3s")
        after = time.time()
        assert placed.returncode == 0, placed.stderr
        [order_id] = created_ids(placed.stdout)
        assert re.search(r"^Held until \d\d:\d\d:\d\d$", placed.stdout, re.MULTILINE)
        listed = orders_json(run_waiter(env, "orders", "--json"))
        assert [(r["order_id"], r["status"]) for r in listed] == [(order_id, "held")]
        fire_at = listed[0]["fire_at"]
        assert before + 3 <= fire_at <= after + 3
        assert "held" in run_waiter(env, "orders").stdout
        assert queued(env) == 0  # held in Redis, not in the broker

        [record] = wait_all(env, [order_id], timeout=20)
        time.sleep(3)  # past another visibility timeout: nothing comes back
        record = ledger(env).order(order_id) or record
        log = cook.log()

    assert event_time(record, "fired") >= fire_at
    assert kinds(record).count("fired") == 1 and kinds(record).count("received") == 1
    assert kinds(record)[:3] == ["held", "fired", "received"]
    assert log.count(f"[{order_id}]: Preparing Pasta") == 1
    with redis.Redis.from_url(env["REDIS_URL"]) as client:
        assert client.zcard(HELD_KEY) == client.hlen(HELD_ORDERS_KEY) == 0


def test_at_a_time_of_day_and_cancelling_a_held_order(
    kitchen_env: dict[str, str], idle_url: str, tmp_path: Path
) -> None:
    env = {**kitchen_env, "REDIS_URL": idle_url, "SCHEDULER_INTERVAL": "0.1"}
    # Far enough ahead that it is still to come when a slow machine has started the waiter
    # (a time already past means tomorrow).
    soon = (datetime.now() + timedelta(seconds=6)).strftime("%H:%M:%S")
    with Scheduler(env, tmp_path / "scheduler.log"):
        at = run_waiter(env, "order", "-t", "9", "-d", "Soup", "--at", soon)
        later = run_waiter(env, "order", "-t", "9", "-d", "Salad", "--in", "1h")
        [at_id], [later_id] = created_ids(at.stdout), created_ids(later.stdout)
        cancelled = run_waiter(env, "cancel", later_id)
        assert cancelled.returncode == 0, cancelled.stderr
        assert cancelled.stdout.endswith("cancelled; it was held.\n")
        wait_all(env, [at_id], status="pending", timeout=25)  # fired: in the queue now

    with redis.Redis.from_url(idle_url) as client:
        assert client.llen("stove") == 1 and client.llen("cold") == 0
        assert client.zcard(HELD_KEY) == 0
    assert ledger(env).status(later_id) == "cancelled"


def test_a_course_is_held_until_it_is_fired(broker_env: dict[str, str], tmp_path: Path) -> None:
    env = broker_env
    with chef(env, tmp_path, "chef1", concurrency=2):
        first = run_waiter(env, "order", "-t", "4", "-d", "Salad", "--course", "1")
        second = run_waiter(
            env, "order", "-t", "4", "-d", "Salad", "-d", "Pasta", "--course", "2", "--hold"
        )
        assert second.returncode == 0, second.stderr
        assert "Held until course 2 is fired: waiter fire --table 4 --course 2" in second.stdout
        course_two = created_ids(second.stdout)
        wait_all(env, created_ids(first.stdout))
        time.sleep(0.5)
        assert {ledger(env).status(order_id) for order_id in course_two} == {"held"}
        shown = run_waiter(env, "orders", "--table", "4").stdout
        assert shown.count("course 2") == 2 and "course 1" in shown

        fired = run_waiter(env, "fire", "--table", "4", "--course", "2")
        assert fired.returncode == 0, fired.stderr
        assert fired.stdout == "Course 2 for table 4 fired: 2 dishes sent to the kitchen\n"
        wait_all(env, course_two)

    again = run_waiter(env, "fire", "--table", "4", "--course", "2")
    assert again.returncode == 6
    assert again.stderr == "waiter: error: no course 2 is held for table 4\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--in", "soon"), "--in: 'soon' is not a delay (try 90s, 20m or 1h30m)"),
        (("--in", "25h"), "--in: '25h' must be more than nothing and at most 24h"),
        (("--at", "25:00"), "--at: '25:00' is not a time of day (try 19:30)"),
        (("--in", "5m", "--at", "19:30"), "give --in or --at, not both"),
        (("--hold",), "--hold needs --course, and cannot be combined with --in or --at"),
        (
            ("--course", "2", "--hold", "--in", "5m"),
            "--hold needs --course, and cannot be combined with --in or --at",
        ),
    ],
)
def test_bad_holds_are_refused_and_nothing_is_held(
    kitchen_env: dict[str, str], idle_url: str, args: tuple[str, ...], message: str
) -> None:
    env = {**kitchen_env, "REDIS_URL": idle_url}
    result = run_waiter(env, "order", "-t", "1", "-d", "Pasta", *args)

    assert (result.returncode, result.stderr) == (2, f"waiter: error: {message}\n")
    with redis.Redis.from_url(idle_url) as client:
        assert client.dbsize() == 0
