"""Two loose ends of reliability, on real workers: a hard-limit failure while Redis is away, and
a soft-limit signal that comes after its dish has ended."""

import re
import signal
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import TEST_KITCHEN, created_ids, run_waiter
from tests.kitchens import kinds, wait_all
from tools.redis_server import REDIS_CONF, RedisServer
from tools.worker import KitchenWorker

pytestmark = pytest.mark.e2e


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis for the broker alone, up all along."""
    with RedisServer(None, tmp_path / "broker") as server:
        yield server


@pytest.fixture
def ledger_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """The ledger's and the results' Redis, with the shipped redis.conf: it can be restarted."""
    with RedisServer(None, tmp_path / "ledger", config=REDIS_CONF) as server:
        yield server


def place(env: dict[str, str], *args: str) -> list[str]:
    """Place an order with the real waiter; return the order ids it printed."""
    result = run_waiter(env, "order", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return created_ids(result.stdout)


def logged_at(log: str, text: str) -> float:
    """When the worker logged the first line holding `text`, in seconds since the epoch."""
    line = next(line for line in log.splitlines() if text in line)
    stamp = re.match(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}):", line)
    assert stamp is not None, line
    return datetime.strptime(stamp[1], "%Y-%m-%d %H:%M:%S,%f").timestamp()


def test_a_dish_killed_at_its_hard_limit_while_redis_is_away_is_failed_once_it_is_back(
    broker: RedisServer, ledger_redis: RedisServer, tmp_path: Path
) -> None:
    # Fries are stuck: deaf to the soft limit (10 s / 4), killed at the hard one (14 s / 4).
    env = {
        **TEST_KITCHEN,
        "REDIS_URL": broker.url,
        "RESULT_BACKEND": ledger_redis.url,
        "KITCHEN_SPEED": "4",
        "KITCHEN_TROUBLE": "Fries=stuck",
        "KITCHEN_REPORT_PATIENCE": "1",
    }
    with KitchenWorker(env, tmp_path / "cook.log", concurrency=2) as cook:
        ids = place(env, "--table", "12", "--dish", "Fries", "--quantity", "2")
        for order_id in ids:
            cook.wait_for_log(
                f"Soft time limit (2.5s) exceeded for kitchen.prepare_dish[{order_id}]"
            )
        ledger_redis.terminate()
        away_since = time.monotonic()
        kills = [f"Hard time limit (3.5s) exceeded for kitchen.prepare_dish[{i}]" for i in ids]
        for kill in kills:
            log = cook.wait_for_log(kill)
        # Longer than any patience: Celery alone tries to store a result for about 20 s.
        time.sleep(max(0.0, away_since + 25 - time.monotonic()))
        ledger_redis.start()

        records = wait_all({"REDIS_URL": ledger_redis.url}, ids, status="failed", timeout=15)
        assert cook.alive()

    # The worker's main loop went on while Redis was away: the second kill came on time.
    assert abs(logged_at(log, kills[1]) - logged_at(log, kills[0])) < 1
    for record in records:
        assert record.reason == "took too long: killed at its hard time limit"
        assert kinds(record)[:3] == ["created", "received", "preparing"]
        assert kinds(record).count("failed") == 1


@pytest.fixture
def spare_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A throwaway Redis of the test's own."""
    with RedisServer(None, tmp_path / "redis") as server:
        yield server


def test_a_soft_limit_signal_after_the_dish_ended_kills_no_pool_process(
    spare_redis: RedisServer, tmp_path: Path
) -> None:
    # The main process's soft-limit timer goes off only if it has not read the dish's result
    # yet: held up (here stopped) past the Skewer's 0.3 s while the Skewer is sent back from
    # the full spit, it signals a pool process whose dish has already ended.
    env = {
        **TEST_KITCHEN,
        "REDIS_URL": spare_redis.url,
        "KITCHEN_MENU": str(Path(__file__).resolve().parent / "data" / "late_signal_menu.toml"),
        "KITCHEN_SPEED": "1",
        "KITCHEN_TROUBLE": "",
        "KITCHEN_STATION_WAIT": "0.01",
    }
    late = "Soft time limit (0.3s) exceeded for kitchen.prepare_dish"
    with KitchenWorker(env, tmp_path / "cook.log", concurrency=3) as cook:
        [roast] = place(env, "--table", "14", "--dish", "Roast")
        cook.wait_for_log(f"[{roast}]: Preparing Roast for table 14...")
        skewers = place(env, "--table", "14", "--dish", "Skewer", "--quantity", "4")
        cook.wait_for_log("The spit station is full (1 cooking); Skewer waits 0.01 s")
        deadline = time.monotonic() + 6  # the Roast holds the spit for 8 s
        while cook.log().count(late) < 2 and time.monotonic() < deadline:
            cook.signal(signal.SIGSTOP)
            try:
                time.sleep(0.5)
            finally:
                cook.signal(signal.SIGCONT)
            time.sleep(0.1)

        records = wait_all({"REDIS_URL": spare_redis.url}, [roast, *skewers], timeout=30)
        log = cook.log()

    assert log.count(late) >= 2, "the stalls sent no soft-limit signal after a Skewer"
    assert "SoftTimeLimitExceeded" not in log
    assert "exited with 'exitcode" not in log
    assert "Ignored a soft time limit signal that came after its dish had ended" in log
    for record in records:
        assert kinds(record).count("ready") == 1 and "failed" not in kinds(record)
    assert log.count(" is ready.") == 5
