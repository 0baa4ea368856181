"""The kitchen on Redis Sentinel: every part follows the master through a failover.

A real set (tools/sentinel.py: a master, its replica, three sentinels) and real workers, the
real waiter and a real `waiter watch`. The master is SIGKILLed with hundreds of orders in flight.
"""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis

from restaurant.connections import bounded_redis
from tests.conftest import WAITER, created_ids, run_waiter
from tests.test_faults import assert_each_ready_once, history
from tests.watching import Watcher, finished, wait_until_subscribed
from tools.redis_server import free_port
from tools.scheduler import Scheduler
from tools.sentinel import SentinelSet
from tools.worker import KitchenWorker

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
MENU = ROOT / "tests" / "data" / "sentinel_menu.toml"
ORDERS = 500


@pytest.fixture
def sentinels(tmp_path: Path) -> Iterator[SentinelSet]:
    with SentinelSet(tmp_path / "sentinels") as running:
        yield running


def kitchen_env(sentinels: SentinelSet) -> dict[str, str]:
    return {
        "REDIS_URL": sentinels.url,
        "KITCHEN_MENU": str(MENU),
        "KITCHEN_TROUBLE": "",
        "KITCHEN_FAILURE_RATE": "0",
    }


def direct(address: tuple[str, int]) -> str:
    return f"redis://{address[0]}:{address[1]}/0"


def statuses(client: redis.Redis, ids: list[str]) -> dict[str, str]:
    with client.pipeline(transaction=False) as pipe:
        for order_id in ids:
            pipe.hget(f"restaurant:order:{order_id}", "status")
        return {
            order_id: (raw.decode() if isinstance(raw, bytes) else str(raw))
            for order_id, raw in zip(ids, pipe.execute(), strict=True)
        }


def wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():  # type: ignore[operator]
                return
        except redis.RedisError:
            pass  # the master is away: ask again
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def assert_ready_once(client: redis.Redis, ids: list[str], logs: str) -> None:
    """One `ready` event per order, and at most one cook that logged it ready.

    A cook whose `ready` reached the master but was not confirmed by a replica before the
    master died hands its message back without saying "is ready."; the next cook finds the
    order ready and cooks nothing: one dish cooked, no line.
    """
    for order_id in ids:
        readies = [event for event in history(client, order_id) if event["event"] == "ready"]
        assert len(readies) == 1, f"{order_id}: {len(readies)} ready events"
        lines = sum(
            f"[{order_id}]: " in line and line.endswith("is ready.") for line in logs.splitlines()
        )
        assert lines <= 1, f"{order_id} was reported ready by {lines} cooks"


def one_line_or_done(result: object) -> None:
    """A waiter run during the failover: it succeeded, or said why in one line (exit 3)."""
    code, stderr = result.returncode, result.stderr  # type: ignore[attr-defined]
    assert code in (0, 3), stderr
    if code == 3:
        assert stderr.startswith("waiter: error: ") and stderr.count("\n") == 1, stderr


def test_the_kitchen_rides_out_the_loss_of_its_redis_master(
    sentinels: SentinelSet, tmp_path: Path
) -> None:
    env = kitchen_env(sentinels)
    client = bounded_redis(sentinels.url, 2.0, "test")
    batch = tmp_path / "orders.json"
    batch.write_text(json.dumps([{"table": 1 + n % 50, "dish": "Sear"} for n in range(ORDERS)]))
    logs = [tmp_path / f"cook{n}.log" for n in (1, 2)]
    cooks = [KitchenWorker(env, log, concurrency=2, name=log.stem) for log in logs]
    with cooks[0], cooks[1], Watcher(env) as watcher:
        watcher.wait_until_listening(direct(sentinels.master_address()))
        placed = run_waiter(env, "order", "--file", str(batch), timeout=120)
        assert placed.returncode == 0, placed.stderr
        ids = created_ids(placed.stdout)
        assert len(ids) == ORDERS
        wait_for(lambda: list(statuses(client, ids).values()).count("ready") >= 40, 60, "40 ready")

        in_flight = sum(s != "ready" for s in statuses(client, ids).values())
        old = sentinels.kill_master()
        killed_at = time.monotonic()
        # While the sentinels elect a new master, the waiter waits for it, within bounds.
        with ThreadPoolExecutor() as pool:
            ordering = pool.submit(run_waiter, env, "order", "-t", "7", "-d", "Sear", timeout=60)
            asking = pool.submit(run_waiter, env, "status", ids[0], timeout=60)
            new, failover_seconds = sentinels.wait_for_failover(old, timeout=30)
            during, status = ordering.result(), asking.result()
            order_seconds = time.monotonic() - killed_at
        assert new != old
        one_line_or_done(during)
        one_line_or_done(status)
        after = run_waiter(env, "order", "-t", "8", "-d", "Sear", timeout=60)
        assert after.returncode == 0, after.stderr
        every = ids + created_ids(during.stdout) + created_ids(after.stdout)

        wait_for(
            lambda: all(s in ("ready", "failed") for s in statuses(client, every).values()),
            180,
            "every order to end",
        )
        final = statuses(client, every)
        failed = [order_id for order_id, status in final.items() if status == "failed"]
        for order_id in failed:
            assert client.hget("restaurant:dead:letters", order_id), f"{order_id}: no dead letter"
        ready = [order_id for order_id, status in final.items() if status == "ready"]
        assert_ready_once(client, ready, "".join(c.log() for c in cooks))
        wait_for(
            lambda: (
                client.hlen("unacked") == 0
                and all(client.llen(q) == 0 for q in ("grill", "grill.rush"))
            ),
            30,
            "the queues and unacked to empty",
        )
        # `waiter watch` followed the new master and replayed what it missed.
        heard = watcher.collect(finished(set(every)), timeout=60)
        assert {event["order_id"] for event in heard} >= set(every)

    again = sum(
        sum(event["event"] == "received" for event in history(client, order_id)) > 1
        for order_id in every
    )
    print(
        f"master killed with {in_flight} of {ORDERS} orders in flight; failover "
        f"{failover_seconds:.1f} s; waiter order and status during it done in "
        f"{order_seconds:.1f} s (exits {during.returncode}, {status.returncode}); "
        f"{len(ready)} ready, {len(failed)} failed; {again} taken by a cook more than once; "
        f"reasons: {sorted({str(client.hget(f'restaurant:order:{i}', 'reason')) for i in failed})}"
    )


def test_a_waiter_held_up_through_a_failover_hears_what_it_missed(
    sentinels: SentinelSet, tmp_path: Path
) -> None:
    # A watcher and a waiting `order --wait` are stopped (SIGSTOP) while the master is lost and
    # the order is cooked on the new one: when they go on, they must find out that they lost
    # their connection, and catch up from the ledger rather than subscribe again in silence.
    env = kitchen_env(sentinels)
    client = bounded_redis(sentinels.url, 2.0, "test")
    master = direct(sentinels.master_address())
    with Watcher(env) as watcher:
        watcher.wait_until_listening(master)
        waiting = subprocess.Popen(
            [WAITER, "order", "-t", "3", "-d", "Sear", "--wait", "--timeout", "40"],
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert waiting.stdout is not None
            [order_id] = created_ids(waiting.stdout.readline())
            wait_until_subscribed(waiting, master, name="waiter")
            assert watcher.next_event()["event"] == "created"
            for process in (waiting, watcher.process):
                process.send_signal(signal.SIGSTOP)
            sentinels.wait_for_failover(sentinels.kill_master())
            with KitchenWorker(env, tmp_path / "cook.log", concurrency=1):
                wait_for(lambda: statuses(client, [order_id])[order_id] == "ready", 30, "ready")
            time.sleep(2)  # more than the slack a watcher allows for clocks that differ
        finally:
            for process in (waiting, watcher.process):
                process.send_signal(signal.SIGCONT)
            out, err = waiting.communicate(timeout=60)
        assert waiting.returncode == 0, out + err  # it heard the order's end within its wait
        heard = watcher.collect(finished({order_id}), timeout=30)
        assert [event["status"] for event in heard][-1] == "ready"
        assert any(line.startswith("waiter: lost Redis at sentinel://") for line in watcher.errors)
        assert any("replaying what was missed" in line for line in watcher.errors)


def test_make_up_on_sentinel_runs_the_worker_the_scheduler_and_flower(
    sentinels: SentinelSet, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        **kitchen_env(sentinels),
        "FLOWER_PORT": str(port),
        "FLOWER_DB": str(tmp_path / "flower-state"),
    }
    log = tmp_path / "up.log"
    with log.open("wb") as sink:
        stack = subprocess.Popen(
            [sys.executable, "-m", "tools.up"],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(lambda: _get(f"http://127.0.0.1:{port}/healthcheck") == "OK", 60, "Flower")
        assert "started a private one" not in log.read_text()  # it used the Sentinel's master

        served = run_waiter(env, "order", "-t", "12", "-d", "Sear", "--wait")
        assert served.returncode == 0, served.stdout + served.stderr
        [order_id] = created_ids(served.stdout)
        held = run_waiter(env, "order", "-t", "12", "-d", "Sear", "--in", "1s", "--wait")
        assert held.returncode == 0, held.stdout + held.stderr
        [held_id] = created_ids(held.stdout)

        assert f"Fired held order {held_id}" in log.read_text()  # the scheduler
        # Flower hears the waiter's and the worker's task events through the master.
        wait_for(
            lambda: "SUCCESS" in _get(f"http://127.0.0.1:{port}/task/{order_id}"),
            30,
            "Flower to know the order",
        )
    finally:
        os.killpg(stack.pid, signal.SIGTERM)
        try:
            stack.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(stack.pid, signal.SIGKILL)
            stack.wait()


def _get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310  (our Flower)
            return str(answer.read().decode())
    except OSError:
        return ""


def test_the_scheduler_sends_again_what_the_broker_lost_on_sentinel(
    sentinels: SentinelSet, tmp_path: Path
) -> None:
    # A failover can lose a message taken off its queue in the last instant before it was
    # recorded as in a cook's hands, as a killed cook can: here it is simply taken away.
    env = kitchen_env(sentinels)
    client = bounded_redis(sentinels.url, 2.0, "test")
    placed = run_waiter(env, "order", "-t", "9", "-d", "Sear")
    assert placed.returncode == 0, placed.stderr
    [lost] = created_ids(placed.stdout)
    assert client.rpop("grill") is not None and client.llen("grill") == 0

    with Scheduler({**env, "ORDER_LOST_AFTER": "1"}, tmp_path / "scheduler.log") as scheduler:
        scheduler.wait_until(
            lambda: "was lost in transit" in scheduler.log(), 20, "the scheduler finding it"
        )
        assert client.llen("grill") == 1
        with KitchenWorker(env, tmp_path / "cook.log", concurrency=1) as cook:
            wait_for(lambda: statuses(client, [lost])[lost] == "ready", 30, "the order ready")
            assert_each_ready_once(client, [lost], cook.log)
