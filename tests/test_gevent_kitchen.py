"""End to end: a kitchen worker on the gevent pool (`-P gevent -c 50`) keeps every rule.

Each dish still ends exactly once, its soft and hard time limits end it as prefork does (with
the same reasons), a stuck pot does not stop the worker, and many long dishes really cook at
the same time in one process, on a few shared connections.
"""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from kitchen.events import GREEN_CONNECTIONS
from tests.conftest import TEST_KITCHEN, created_ids, run_waiter
from tests.kitchens import event_time, kinds, wait_all
from tools.redis_server import RedisServer
from tools.worker import KitchenWorker

pytestmark = pytest.mark.e2e

#: The fault tests' menu: a Stew that cooks for 1.5 s, well inside its limits (4 s and 5 s).
LONG_DISHES = Path(__file__).resolve().parent / "data" / "fault_menu.toml"


def _fresh(redis_server: RedisServer, db: int, kitchen: dict[str, str]) -> dict[str, str]:
    url = f"redis://127.0.0.1:{redis_server.port}/{db}"
    with redis.Redis.from_url(url) as client:
        client.flushdb()
    return {**kitchen, "REDIS_URL": url}


@pytest.fixture(scope="module")
def green_env(redis_server: RedisServer) -> dict[str, str]:
    """The test kitchen (speed 20, forced trouble) in a database of its own."""
    return _fresh(redis_server, 12, TEST_KITCHEN)


@pytest.fixture(scope="module")
def green_cook(
    green_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KitchenWorker]:
    log = tmp_path_factory.mktemp("gevent") / "worker.log"
    with KitchenWorker(green_env, log, concurrency=50, pool="gevent") as running:
        yield running


def _order(env: dict[str, str], *dishes: str, table: int = 5) -> list[str]:
    lines = [{"table": table, "dish": dish} for dish in dishes]
    result = run_waiter(env, "order", "--file", "-", stdin=json.dumps(lines))
    assert result.returncode == 0, result.stdout + result.stderr
    return created_ids(result.stdout)


def test_the_worker_runs_on_the_gevent_pool(green_cook: KitchenWorker) -> None:
    assert "concurrency: 50 (gevent)" in green_cook.log()


def test_ordinary_dishes_end_ready_exactly_once(
    green_env: dict[str, str], green_cook: KitchenWorker
) -> None:
    # Burger: the grill is busy for two attempts, so it is retried twice with a countdown.
    dishes = ["Pasta", "Salad", "Tiramisu", "Burger", "Risotto", "Salad", "Pasta"]
    order_ids = _order(green_env, *dishes, table=6)

    records = wait_all(green_env, order_ids)

    for record in records:
        assert kinds(record).count("ready") == 1, kinds(record)
        assert "failed" not in kinds(record)
    burger = records[dishes.index("Burger")]
    assert burger.attempt == 3
    assert kinds(burger).count("retrying") == 2
    log = green_cook.wait_for_log(f"[{order_ids[-1]}]: Pasta for table 6 is ready.")
    for order_id, dish in zip(order_ids, dishes, strict=True):
        assert log.count(f"[{order_id}]: {dish} for table 6 is ready.") == 1
        assert log.count(f"Task kitchen.prepare_dish[{order_id}] succeeded") == 1


def test_a_dish_over_its_soft_limit_fails_as_under_prefork(
    green_env: dict[str, str], green_cook: KitchenWorker
) -> None:
    # Soup is forced slow: it would cook past its soft limit (10 s / speed 20 = 0.5 s).
    [order_id] = _order(green_env, "Soup", table=7)

    [record] = wait_all(green_env, [order_id], status="failed")

    assert record.reason == "took too long: still cooking after the 0.5 s limit"
    assert kinds(record).count("failed") == 1
    log = green_cook.wait_for_log(
        f"[{order_id}]: Soup for table 7 took too long; stopped after 0.5 s"
    )
    assert f"Soft time limit (0.5s) exceeded for kitchen.prepare_dish[{order_id}]" in log
    assert f"Hard time limit (0.7s) exceeded for kitchen.prepare_dish[{order_id}]" not in log


def test_a_stuck_dish_is_ended_at_its_hard_limit_and_the_worker_carries_on(
    green_env: dict[str, str], green_cook: KitchenWorker
) -> None:
    # Fries are forced stuck: the pot swallows the soft limit's exception (any Exception),
    # so only the hard limit (14 s / speed 20 = 0.7 s) ends it.
    [order_id] = _order(green_env, "Fries", table=8)

    [record] = wait_all(green_env, [order_id], status="failed")

    assert record.reason == "took too long: killed at its hard time limit"
    log = green_cook.wait_for_log(
        f"Hard time limit (0.7s) exceeded for kitchen.prepare_dish[{order_id}]"
    )
    assert log.count(f"Hard time limit (0.7s) exceeded for kitchen.prepare_dish[{order_id}]") == 1
    assert green_cook.alive()
    # The stuck dish is not delivered again, and the next orders are served.
    after = _order(green_env, "Pasta", "Salad", table=8)
    wait_all(green_env, after)
    [record] = wait_all(green_env, [order_id], status="failed")
    assert kinds(record).count("failed") == 1
    assert green_cook.log().count(f"[{order_id}]: Preparing Fries") == 1
    assert green_cook.alive()


def test_many_long_dishes_cook_at_the_same_time(redis_server: RedisServer, tmp_path: Path) -> None:
    kitchen = {
        **TEST_KITCHEN,
        "KITCHEN_MENU": str(LONG_DISHES),
        "KITCHEN_SPEED": "1",
        "KITCHEN_TROUBLE": "",
    }
    env = _fresh(redis_server, 13, kitchen)
    with KitchenWorker(env, tmp_path / "worker.log", concurrency=50, pool="gevent"):
        order_ids = _order(env, *["Stew"] * 40, table=9)
        records = wait_all(env, order_ids, timeout=60)
        with redis.Redis.from_url(env["REDIS_URL"]) as client:
            cooks = [c for c in client.client_list() if c["name"] == "kitchen" and c["db"] == "13"]

    # The 40 cooks shared the worker's few connections rather than opening one each.
    assert 0 < len(cooks) <= GREEN_CONNECTIONS

    # Every dish was on the stove before the first one came off it: they cooked together.
    last_started = max(event_time(record, "preparing") for record in records)
    first_ready = min(event_time(record, "ready") for record in records)
    assert last_started < first_ready
    assert all(kinds(record).count("ready") == 1 for record in records)
