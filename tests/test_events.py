"""End to end: order events on pub/sub and the ledger, with real watchers and real workers."""

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery

from restaurant.names import COOK_LEASE_KEY
from tests.conftest import Waiter, created_ids, run_waiter
from tests.redis_monitor import Monitor
from tests.watching import Watcher, finished
from tools.worker import KitchenWorker

pytestmark = pytest.mark.e2e

BENCH_MENU = Path(__file__).resolve().parent.parent / "bench" / "bench_menu.toml"
NORMAL = ["created", "received", "preparing", "progress", "progress", "progress", "ready"]
INSTANT = ["created", "received", "ready"]
ONE_TRY = ["received", "preparing", "retrying"]


def history(waiter: Waiter, order_id: str) -> list[dict[str, Any]]:
    result = waiter("status", order_id, "--json")
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout)["history"])


def kinds(events: list[dict[str, Any]], order_id: str | None = None) -> list[str]:
    return [e["event"] for e in events if order_id is None or e["order_id"] == order_id]


def of(events: list[dict[str, Any]], order_id: str) -> list[dict[str, Any]]:
    return [e for e in events if e["order_id"] == order_id]


def test_two_subscribers_hear_the_same_events_in_the_same_order(
    kitchen_env: dict[str, str], waiter: Waiter
) -> None:
    url = kitchen_env["REDIS_URL"]
    with Watcher(kitchen_env, "--table", "21") as first, Watcher(kitchen_env) as second:
        first.wait_until_listening(url)
        second.wait_until_listening(url, watchers=2)
        placed = waiter("order", "-t", "21", "-d", "Pasta", "-d", "Burger", "-d", "Salad")
        ids = created_ids(placed.stdout)
        heard_first = first.collect(finished(set(ids)))
        heard_second = [e for e in second.collect(finished(set(ids))) if e["order_id"] in ids]
        assert first.interrupt() == 0 and second.interrupt() == 0

    assert heard_first == heard_second
    pasta, burger, salad = ids
    assert kinds(heard_first, pasta) == NORMAL
    assert kinds(heard_first, salad) == NORMAL
    assert kinds(heard_first, burger) == ["created", *ONE_TRY, *ONE_TRY, *NORMAL[1:]]
    for order_id in ids:
        events = of(heard_first, order_id)
        # In order, none missing: the ledger numbers each order's events 1, 2, 3...
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        assert events == history(waiter, order_id)
        assert {(e["table"], e["v"]) for e in events} == {(21, 1)}
    assert {e["station"] for e in of(heard_first, burger)} == {"grill"}


def test_the_schema_of_each_kind_of_event(waiter: Waiter) -> None:
    result = waiter("order", "-t", "22", "-d", "Burger", "--note", "no onion", "--wait")
    [order_id] = created_ids(result.stdout)
    events = history(waiter, order_id)

    by_kind = {e["event"]: e for e in events}
    common = {"v", "event", "order_id", "status", "time", "table", "dish", "attempt", "seq"}
    common |= {"ticket"}  # every order is on its table's ticket
    kitchen = common | {"station", "worker", "delivery"}
    assert set(by_kind["created"]) == common | {"note", "station"}
    assert by_kind["created"]["note"] == "no onion" and by_kind["created"]["status"] == "pending"
    assert set(by_kind["received"]) == kitchen
    assert set(by_kind["preparing"]) == kitchen | {"percent"}
    assert set(by_kind["progress"]) == kitchen | {"percent"}
    assert set(by_kind["retrying"]) == kitchen | {"reason", "retry_in"}
    assert by_kind["retrying"]["reason"] == "the grill station is busy"
    assert 0 <= by_kind["retrying"]["retry_in"] <= 0.2
    assert set(by_kind["ready"]) == kitchen | {"percent", "cook_seconds"}
    assert [e["attempt"] for e in events] == [0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3, 3]
    times = [e["time"] for e in events]
    assert times == sorted(times)


def test_a_dish_that_never_clears_ends_failed_with_its_reason(waiter: Waiter) -> None:
    result = waiter("order", "-t", "23", "-d", "Steak", "--wait")
    [order_id] = created_ids(result.stdout)
    events = history(waiter, order_id)

    assert kinds(events) == ["created", *ONE_TRY * 3, "received", "preparing", "failed"]
    assert events[-1]["reason"] == (
        "gave up after 4 attempts: ran short of an ingredient for Steak"
    )
    assert [e["reason"] for e in events if e["event"] == "retrying"] == [
        "ran short of an ingredient for Steak"
    ] * 3


def test_a_dish_killed_at_its_hard_limit_is_recorded_failed(waiter: Waiter) -> None:
    result = waiter("order", "-t", "24", "-d", "Fries", "--wait", timeout=90)
    [order_id] = created_ids(result.stdout)

    events = history(waiter, order_id)
    assert kinds(events) == ["created", "received", "preparing", "failed"]
    assert events[-1]["reason"] == "took too long: killed at its hard time limit"
    assert "failed after" in result.stdout and result.returncode == 4


def test_a_replayed_order_message_is_not_cooked_and_leaves_the_ledger_as_it_was(
    waiter: Waiter, worker: KitchenWorker, raw_sender: Celery
) -> None:
    result = waiter("order", "-t", "25", "-d", "Salad", "--wait")
    [order_id] = created_ids(result.stdout)
    before = json.loads(waiter("status", order_id, "--json").stdout)

    # The same message again, as a redelivery would bring it, after the dish is ready.
    fields = {"table": 25, "dish": "Salad", "note": None, "ordered_at": before["created_at"]}
    raw_sender.send_task("kitchen.prepare_dish", kwargs=fields, task_id=order_id)
    log = worker.wait_for_log(
        f"[{order_id}]: Salad for table 25 is already ready; not cooking it again."
    )
    assert log.count(f"[{order_id}]: Preparing Salad") == 1
    assert log.count(f"[{order_id}] succeeded") == 1

    after = json.loads(waiter("status", order_id, "--json").stdout)
    assert after["status"] == "ready"
    assert after["history"] == before["history"]
    assert after["seq"] == before["seq"] == len(before["history"])


@pytest.fixture(scope="module")
def slow_kitchen(
    kitchen_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[dict[str, str], KitchenWorker]]:
    """A kitchen at half the menu's speed on database 5, keeping finished orders 3 s."""
    url = kitchen_env["REDIS_URL"].removesuffix("/0") + "/5"
    with redis.Redis.from_url(url) as client:
        client.flushdb()
    env = {**kitchen_env, "REDIS_URL": url, "KITCHEN_SPEED": "2", "ORDER_RETENTION": "3"}
    log = tmp_path_factory.mktemp("slow-kitchen") / "worker.log"
    with KitchenWorker(env, log, concurrency=1) as running:
        yield env, running


def test_cancelling_a_dish_on_the_stove_stops_it(
    slow_kitchen: tuple[dict[str, str], KitchenWorker],
) -> None:
    env, worker = slow_kitchen
    with Watcher(env, "--table", "26") as watcher:
        watcher.wait_until_listening(env["REDIS_URL"])
        [order_id] = created_ids(run_waiter(env, "order", "-t", "26", "-d", "Risotto").stdout)
        watcher.collect(lambda seen: any(e["event"] == "progress" for e in seen))

        cancelled = run_waiter(env, "cancel", order_id)
        asked = time.time()
        assert cancelled.returncode == 0, cancelled.stderr
        assert cancelled.stdout == (
            f"Order {order_id} (Risotto for table 26) cancelled; it was preparing.\n"
        )
        worker.wait_for_log(f"[{order_id}]: Stopped cooking Risotto for table 26: cancelled.")
        stopped = time.time()
        heard = watcher.collect(finished({order_id}))
        assert watcher.interrupt() == 0

    assert stopped - asked < 2.0
    assert heard[-1]["event"] == "cancelled" and heard[-1]["reason"] == "cancelled by the waiter"
    events = json.loads(run_waiter(env, "status", order_id, "--json").stdout)["history"]
    assert kinds(events)[:3] == ["created", "received", "preparing"]
    assert kinds(events)[-1] == "cancelled"
    assert "ready" not in kinds(events)
    assert f"[{order_id}]: Risotto for table 26 is ready." not in worker.log()
    # The cook is free again at once.
    served = run_waiter(env, "order", "-t", "26", "-d", "Tiramisu", "--wait")
    assert "Tiramisu for table 26 is ready after" in served.stdout


def test_a_queued_order_cancelled_is_never_cooked_even_by_a_new_worker(
    kitchen_env: dict[str, str], idle_url: str, tmp_path: Path
) -> None:
    env = {**kitchen_env, "REDIS_URL": idle_url}
    [order_id] = created_ids(run_waiter(env, "order", "-t", "27", "-d", "Pasta").stdout)

    cancelled = run_waiter(env, "cancel", order_id)
    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stdout.endswith("cancelled; it was pending.\n")
    with redis.Redis.from_url(idle_url) as client:
        assert client.llen("pasta") == 1  # still queued: a worker will find it cancelled

    with KitchenWorker(env, tmp_path / "worker.log", concurrency=1) as worker:
        worker.wait_for_log(f"[{order_id}]: Pasta for table 27 was cancelled; not cooking it.")
        deadline = time.monotonic() + 10
        with redis.Redis.from_url(idle_url) as client:
            while client.llen("pasta") or client.hlen("unacked"):
                assert time.monotonic() < deadline, "the cancelled order was not acknowledged"
                time.sleep(0.1)
    assert "Preparing Pasta for table 27" not in worker.log()
    record = json.loads(run_waiter(env, "status", order_id, "--json").stdout)
    assert record["status"] == "cancelled"
    assert kinds(record["history"]) == ["created", "cancelled"]

    # Cancelled stays cancelled: a second worker sees the same.
    again = run_waiter(env, "cancel", order_id)
    assert (again.returncode, again.stderr) == (
        8,
        f"waiter: error: order {order_id} is already cancelled; too late to cancel\n",
    )


def test_cancelling_a_finished_or_unknown_order_is_a_clear_error(waiter: Waiter) -> None:
    [order_id] = created_ids(waiter("order", "-t", "28", "-d", "Salad", "--wait").stdout)

    done = waiter("cancel", order_id)
    unknown = waiter("cancel", "00000000-0000-4000-8000-000000000000")
    garbage = waiter("cancel", "not-an-id")

    assert (done.returncode, done.stderr) == (
        8,
        f"waiter: error: order {order_id} is already ready; too late to cancel\n",
    )
    assert unknown.returncode == 6 and "no order 00000000-" in unknown.stderr
    assert garbage.returncode == 2 and "'not-an-id' is not an order id" in garbage.stderr
    assert json.loads(waiter("status", order_id, "--json").stdout)["status"] == "ready"


def test_finished_orders_expire_after_the_retention_and_open_ones_stay(
    slow_kitchen: tuple[dict[str, str], KitchenWorker], kitchen_env: dict[str, str]
) -> None:
    env, _ = slow_kitchen
    result = run_waiter(env, "order", "-t", "29", "-d", "Tiramisu", "--wait")
    [order_id] = created_ids(result.stdout)
    with redis.Redis.from_url(env["REDIS_URL"]) as client:
        assert 0 < client.ttl(f"restaurant:order:{order_id}") <= 3
        assert 0 < client.ttl(f"restaurant:order:{order_id}:history") <= 3
    # An open order on a database no worker serves, with the same short retention.
    idle = {**kitchen_env, "REDIS_URL": env["REDIS_URL"].removesuffix("/5") + "/6"}
    idle["ORDER_RETENTION"] = "3"
    [waiting] = created_ids(run_waiter(idle, "order", "-t", "29", "-d", "Pasta").stdout)

    time.sleep(3.5)

    gone = run_waiter(env, "status", order_id)
    assert gone.returncode == 6, gone.stdout
    assert order_id not in run_waiter(env, "orders", "--json").stdout
    still = json.loads(run_waiter(idle, "status", waiting, "--json").stdout)
    assert still["status"] == "pending"
    with redis.Redis.from_url(idle["REDIS_URL"]) as client:
        assert client.ttl(f"restaurant:order:{waiting}") == -1  # no expiry while open
        client.flushdb()


def test_orders_lists_recent_and_open_orders_as_a_table(
    kitchen_env: dict[str, str], idle_url: str
) -> None:
    env = {**kitchen_env, "REDIS_URL": idle_url}
    first = created_ids(run_waiter(env, "order", "-t", "30", "-d", "Pasta", "-d", "Soup").stdout)
    other = created_ids(run_waiter(env, "order", "-t", "31", "-d", "Salad").stdout)
    run_waiter(env, "cancel", first[1])

    everything = run_waiter(env, "orders")
    open_30 = json.loads(run_waiter(env, "orders", "--table", "30", "--open", "--json").stdout)
    all_30 = json.loads(run_waiter(env, "orders", "--table", "30", "--json").stdout)
    open_all = json.loads(run_waiter(env, "orders", "--open", "--json").stdout)

    assert everything.returncode == 0
    header = everything.stdout.splitlines()[1]
    for title in ("Order", "Table", "Dish", "Station", "Status", "Attempt", "Worker", "Ordered"):
        assert title in header
    rows = {line.split()[1]: line for line in everything.stdout.splitlines() if "-4" in line}
    assert "pending" in rows[first[0]] and "Pasta" in rows[first[0]] and "30" in rows[first[0]]
    assert "cancelled" in rows[first[1]] and "stove" in rows[first[1]]
    assert "Salad" in rows[other[0]]
    assert [o["order_id"] for o in open_30] == [first[0]]
    assert {o["order_id"] for o in all_30} == set(first)
    assert {o["order_id"] for o in open_all} == {first[0], other[0]}
    empty = run_waiter(env, "orders", "--table", "49")
    assert (empty.returncode, empty.stdout) == (0, "no orders for table 49\n")


def test_a_dish_of_no_time_tells_its_steps_in_order_without_progress(
    idle_url: str, tmp_path: Path
) -> None:
    # The benchmark's Toast cooks for a microsecond: done before the cook looks back at the
    # order, it has no progress to tell, nor its start, and its ready event says 100.
    env = {"REDIS_URL": idle_url, "KITCHEN_MENU": str(BENCH_MENU), "KITCHEN_TROUBLE": ""}
    with (
        KitchenWorker(env, tmp_path / "worker.log", concurrency=1),
        Watcher(env, "--table", "31") as watcher,
    ):
        watcher.wait_until_listening(idle_url)
        result = run_waiter(env, "order", "-t", "31", "-d", "Toast", "--wait")
        assert result.returncode == 0, result.stderr
        [order_id] = created_ids(result.stdout)
        heard = watcher.collect(finished({order_id}))
        record = json.loads(run_waiter(env, "status", order_id, "--json").stdout)
        with redis.Redis.from_url(idle_url) as client:
            meta = json.loads(client.get(f"celery-task-meta-{order_id}") or "{}")

    events = record["history"]
    assert kinds(events) == INSTANT
    assert events[-1]["percent"] == 100
    assert [event["seq"] for event in events] == list(range(1, 4))
    assert [event.get("delivery") for event in events] == [None, 1, 1]
    assert kinds(heard, order_id) == INSTANT
    # The result Celery's backend would have written, written with the ready event.
    assert meta["status"] == "SUCCESS" and meta["result"]["order_id"] == order_id
    assert meta["name"] == "kitchen.prepare_dish" and meta["kwargs"]["dish"] == "Toast"
    assert meta["result"]["delivery"] == 1 and meta["result"]["table"] == 31
    log = (tmp_path / "worker.log").read_text()
    assert log.count(f"[{order_id}]: Preparing Toast for table 31...") == 1
    assert log.count(f"[{order_id}]: Toast for table 31 is ready.") == 1


def test_a_dish_of_no_time_is_one_round_trip_from_its_cook(idle_url: str, tmp_path: Path) -> None:
    # Cooked before it is claimed, the dish is claimed with its received and ready events and
    # its result: the cook's one command to the ledger is one script.
    env = {"REDIS_URL": idle_url, "KITCHEN_MENU": str(BENCH_MENU), "KITCHEN_TROUBLE": ""}
    db = int(idle_url.rsplit("/", 1)[1])
    with KitchenWorker(env, tmp_path / "worker.log", concurrency=1):
        warm = run_waiter(env, "order", "-t", "33", "-d", "Toast", "--wait")  # scripts loaded
        assert warm.returncode == 0, warm.stderr
        with Monitor(idle_url.rsplit("/", 1)[0], db=db) as monitor:
            result = run_waiter(env, "order", "-t", "33", "-d", "Toast", "--wait")
            assert result.returncode == 0, result.stderr
        [order_id] = created_ids(result.stdout)

    cooks = monitor.sent_by_client_of(COOK_LEASE_KEY.format(order_id=order_id))
    assert len(cooks) == 1 and cooks[0].startswith("EVALSHA")
    record = json.loads(run_waiter(env, "status", order_id, "--json").stdout)
    assert kinds(record["history"]) == INSTANT


def test_a_dish_of_no_time_slowed_down_tells_its_start_when_it_first_looks_back(
    idle_url: str, tmp_path: Path
) -> None:
    # Toast slowed down by trouble cooks for twice its hard limit: still cooking at its first
    # check-in, it tells then that it started, as of when it started, and fails at the soft limit.
    menu = tmp_path / "menu.toml"
    menu.write_text(
        '[dishes.Toast]\nstation = "cold"\ncook_seconds = [0.000001, 0.000001]\n'
        "soft_limit = 0.6\nhard_limit = 1.2\n",
        encoding="utf-8",
    )
    env = {"REDIS_URL": idle_url, "KITCHEN_MENU": str(menu), "KITCHEN_TROUBLE": "Toast=slow"}
    with (
        KitchenWorker(env, tmp_path / "worker.log", concurrency=1),
        Watcher(env, "--table", "32") as watcher,
    ):
        watcher.wait_until_listening(idle_url)
        [order_id] = created_ids(run_waiter(env, "order", "-t", "32", "-d", "Toast").stdout)
        heard = watcher.collect(finished({order_id}))

    assert kinds(heard, order_id) == ["created", "received", "preparing", "failed"]
    received, preparing, failed = of(heard, order_id)[1:]
    assert preparing["percent"] == 0 and "took too long" in failed["reason"]
    # Sent at the first check-in, a quarter of a second in, with the time the cooking began.
    assert preparing["time"] - received["time"] < 0.1
    assert failed["time"] - preparing["time"] > 0.4
