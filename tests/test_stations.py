"""Stations: routing by station, station-only cooks, several named cooks, rush orders, capacity.

The end-to-end tests run once with Redis as the broker and once with RabbitMQ (`broker_env`);
Redis stays the result backend and the event bus in both.
"""

import base64
import json
import time
from contextlib import ExitStack
from pathlib import Path

import pytest
import redis

from kitchen.stations import StationLeases
from tests.conftest import created_ids, run_waiter
from tests.kitchens import chef, event_time, ledger, orders_json, wait_all

pytestmark = pytest.mark.e2e

#: A menu with one small fryer: two baskets for every worker together.
FRYER_MENU = """
[stations.fryer]
capacity = 2

[dishes.Chips]
station = "fryer"
cook_seconds = [6.0, 6.0]
soft_limit = 20
hard_limit = 30

[dishes.Salad]
station = "cold"
cook_seconds = [1.0, 3.0]
soft_limit = 8
hard_limit = 12
"""


def test_each_order_goes_to_its_stations_queue_and_rush_to_its_rush_queue(
    kitchen_env: dict[str, str], idle_url: str
) -> None:
    env = {**kitchen_env, "REDIS_URL": idle_url}
    plain = run_waiter(env, "order", "-t", "1", "-d", "Pasta", "-d", "Steak", "-d", "Salad")
    rush = run_waiter(env, "order", "-t", "2", "-d", "Pasta", "--rush")
    assert plain.returncode == rush.returncode == 0, plain.stderr + rush.stderr

    pasta, steak, salad = created_ids(plain.stdout)
    [rushed] = created_ids(rush.stdout)
    with redis.Redis.from_url(idle_url) as client:

        def ids_in(queue: str) -> list[str]:
            return [json.loads(raw)["headers"]["id"] for raw in client.lrange(queue, 0, -1)]

        assert ids_in("pasta") == [pasta]
        assert ids_in("grill") == [steak]
        assert ids_in("cold") == [salad]
        assert ids_in("pasta.rush") == [rushed]
        assert client.llen("orders") == 0
        body = json.loads(client.lrange("pasta.rush", 0, -1)[0])["body"]
    # The rush is in the queue, not in the order: the kitchen gets the same arguments.
    assert json.loads(base64.b64decode(body))[1]["dish"] == "Pasta"
    records = {
        record["order_id"]: record for record in orders_json(run_waiter(env, "orders", "--json"))
    }
    assert records[rushed]["rush"] is True and records[pasta]["rush"] is False
    assert records[steak]["station"] == "grill"


def test_a_station_only_cook_ignores_other_stations_and_orders_show_who_cooked(
    broker_env: dict[str, str], tmp_path: Path
) -> None:
    env = broker_env
    placed = run_waiter(env, "order", "-t", "3", "-d", "Salad", "-d", "Pasta", "-d", "Tiramisu")
    assert placed.returncode == 0, placed.stderr
    salad, pasta, tiramisu = created_ids(placed.stdout)

    with chef(env, tmp_path, "grillcook", "grill", "pasta"):
        [cooked] = wait_all(env, [pasta])
        time.sleep(1.0)  # time enough to take the others, were it listening to them
        assert cooked.worker is not None and cooked.worker.startswith("grillcook@")
        book = ledger(env)
        assert book.status(salad) == book.status(tiramisu) == "pending"
        with chef(env, tmp_path, "coldcook", "cold"), chef(env, tmp_path, "pastrycook", "pastry"):
            wait_all(env, [salad, tiramisu])

    shown = {r["order_id"]: r["worker"] for r in orders_json(run_waiter(env, "orders", "--json"))}
    assert shown[pasta].startswith("grillcook@")
    assert shown[salad].startswith("coldcook@")
    assert shown[tiramisu].startswith("pastrycook@")
    table = run_waiter(env, "orders", "--table", "3").stdout
    assert "coldcook@" in table and "grillcook@" in table and "Worker" in table


def test_orders_spread_across_two_plain_cooks(broker_env: dict[str, str], tmp_path: Path) -> None:
    env = broker_env
    with chef(env, tmp_path, "chef1"), chef(env, tmp_path, "chef2"):
        placed = run_waiter(env, "order", "-t", "5", "-d", "Pasta", "-d", "Salad", "-q", "6")
        assert placed.returncode == 0, placed.stderr
        records = wait_all(env, created_ids(placed.stdout))
    workers = {record.worker.split("@")[0] for record in records if record.worker}
    assert workers == {"chef1", "chef2"}


def test_a_rush_order_behind_fifty_ordinary_ones_is_cooked_first(
    broker_env: dict[str, str], tmp_path: Path
) -> None:
    # Fast, but with room for the soft limit (8 s / 25) on a loaded machine.
    env = {**broker_env, "KITCHEN_SPEED": "25"}
    ordinary = run_waiter(env, "order", "-t", "6", "-d", "Salad", "-q", "20")
    ordinary_ids = created_ids(ordinary.stdout)
    for _ in range(2):
        more = run_waiter(env, "order", "-t", "6", "-d", "Salad", "-q", "15")
        ordinary_ids += created_ids(more.stdout)
    rush = run_waiter(env, "order", "-t", "7", "-d", "Salad", "--rush")
    [rushed] = created_ids(rush.stdout)
    assert len(ordinary_ids) == 50

    with chef(env, tmp_path, "onlychef", concurrency=1):
        records = wait_all(env, [rushed, *ordinary_ids], timeout=60)

    started = {record.order_id: event_time(record, "preparing") for record in records}
    assert all(started[rushed] < started[order_id] for order_id in ordinary_ids)
    # The ordinary ones kept their own order among themselves.
    assert sorted(ordinary_ids, key=started.__getitem__) == ordinary_ids


def test_a_station_never_cooks_more_than_its_capacity_across_two_cooks(
    broker_env: dict[str, str], tmp_path: Path
) -> None:
    menu = tmp_path / "menu.toml"
    menu.write_text(FRYER_MENU)
    env = {
        **broker_env,
        "KITCHEN_MENU": str(menu),
        "KITCHEN_TROUBLE": "",
        "KITCHEN_STATION_WAIT": "0.05",
    }
    with ExitStack() as stack:
        cooks = [stack.enter_context(chef(env, tmp_path, f"fry{n}", concurrency=2)) for n in (1, 2)]
        placed = run_waiter(env, "order", "-t", "8", "-d", "Chips", "-q", "8")
        assert placed.returncode == 0, placed.stderr
        records = wait_all(env, created_ids(placed.stdout))

    spans = [(event_time(r, "preparing"), event_time(r, "ready")) for r in records]
    moments = sorted({start for start, _ in spans})
    most = max(sum(start <= moment < end for start, end in spans) for moment in moments)
    assert most == 2  # full, and never over
    assert {record.worker.split("@")[0] for record in records if record.worker} == {"fry1", "fry2"}
    assert any("The fryer station is full" in cook.log() for cook in cooks)
    assert all(record.attempt == 1 for record in records)
    assert StationLeases(ledger(env).client).holders("fryer") == []


def test_a_lease_lapses_on_its_own_when_its_cook_never_gives_it_back(
    redis_server: object, idle_url: str
) -> None:
    leases = StationLeases(redis.Redis.from_url(idle_url))

    assert leases.acquire("fryer", "order-a", 0.5, capacity=1)
    assert leases.acquire("fryer", "order-a", 0.5, capacity=1)  # renewed, not a second place
    assert not leases.acquire("fryer", "order-b", 0.5, capacity=1)
    time.sleep(0.7)  # order-a's cook died: nobody releases it
    assert leases.acquire("fryer", "order-b", 0.5, capacity=1)
    assert leases.holders("fryer") == ["order-b"]
    leases.release("fryer", "order-b")
    assert leases.holders("fryer") == []
